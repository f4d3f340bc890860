"""The observatory calendar in the Django admin: staff edit technical and closed nights,
instrument mounts, links between VM runs and pins (plain data the adapter reads at each solve;
no service rule is bypassed, a solve checks them: ``scheduling.adapter.check_period_problem``)."""

from django.contrib import admin

from scheduling.models import CalendarNight, InstrumentMount, RunLink, RunPin


@admin.register(CalendarNight)
class CalendarNightAdmin(admin.ModelAdmin):
    list_display = ["date", "telescope", "kind", "note"]
    list_filter = ["telescope", "kind"]
    date_hierarchy = "date"
    search_fields = ["note"]


@admin.register(InstrumentMount)
class InstrumentMountAdmin(admin.ModelAdmin):
    list_display = ["instrument", "start", "end"]
    list_filter = ["instrument__telescope", "instrument"]
    date_hierarchy = "start"


@admin.register(RunLink)
class RunLinkAdmin(admin.ModelAdmin):
    list_display = ["first", "kind", "second", "min_days", "max_days", "ordered"]
    list_filter = ["kind"]
    raw_id_fields = ["first", "second"]
    list_select_related = ["first__proposal", "second__proposal"]


@admin.register(RunPin)
class RunPinAdmin(admin.ModelAdmin):
    list_display = ["run", "start", "second_half", "by", "at"]
    raw_id_fields = ["run", "by"]
    list_select_related = ["run__proposal", "by"]
    date_hierarchy = "start"
