from django.contrib import admin

from dataflow.accounts.models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "institute", "country"]
    search_fields = ["user__username", "user__email", "institute"]
