from django.contrib import admin

from dataflow.observatory.models import Instrument, Site, Telescope


class TelescopeInline(admin.TabularInline):
    model = Telescope
    extra = 0


class InstrumentInline(admin.TabularInline):
    model = Instrument
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "latitude_deg", "longitude_deg", "height_m", "timezone"]
    inlines = [TelescopeInline]


@admin.register(Telescope)
class TelescopeAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "aperture_m"]
    list_select_related = ["site"]
    inlines = [InstrumentInline]


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["name", "telescope", "offered_sm", "offered_vm"]
    list_select_related = ["telescope"]
    list_filter = ["telescope"]
