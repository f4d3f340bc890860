"""The archive in Django's admin: read-only views of what ingestion wrote (writes go through
``archive.services``: a file's row and its stored bytes must not drift apart)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from archive.models import (
    ArchiveEvent,
    ArchiveFile,
    BasketItem,
    DataDelegate,
    DownloadRequest,
    QuarantinedFile,
    TapJob,
    Transfer,
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ArchiveFile)
class ArchiveFileAdmin(ReadOnlyAdmin):
    list_display = ["dp_id", "category", "instrument_name", "object_name", "prog_id", "night",
                    "release_date", "size_bytes"]  # fmt: skip
    list_filter = ["category", "instrument_name", "calib_level"]
    search_fields = ["dp_id", "object_name", "prog_id", "origfile"]
    date_hierarchy = "date_obs"


@admin.register(QuarantinedFile)
class QuarantinedFileAdmin(ReadOnlyAdmin):
    list_display = ["file_name", "source", "received_at", "reason", "resolved_at"]
    list_filter = ["source"]
    search_fields = ["file_name", "reason", "sha256"]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["file_name", "status", "night", "instrument_name", "priority", "queued_at",
                    "finished_at"]  # fmt: skip
    list_filter = ["status", "instrument_name"]
    search_fields = ["file_name"]


@admin.register(ArchiveEvent)
class ArchiveEventAdmin(ReadOnlyAdmin):
    list_display = ["kind", "at", "actor", "archive_file", "quarantined"]
    list_filter = ["kind"]


for model in (DataDelegate, BasketItem, DownloadRequest, TapJob):
    if not admin.site.is_registered(model):
        admin.site.register(model, ReadOnlyAdmin)
