"""Phase 1 in the Django admin: staff open calls (periods) and look at proposals.

Proposals and their history are read-only here: every change of a proposal goes through
``proposals.services`` (row lock, state machine, version for ETags, audit row), which an admin
form would bypass. Staff act on proposals through the pages and the API like everyone else.
"""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from proposals.models import (
    CoInvestigator,
    Figure,
    ObservingRun,
    Period,
    Proposal,
    ProposalEvent,
    Target,
)
from proposals.review.models import ReviewEvent, ReviewSetup


@admin.register(Period)
class PeriodAdmin(admin.ModelAdmin):
    list_display = ["__str__", "call_opens", "deadline", "start", "end", "call_open"]
    search_fields = ["number"]
    date_hierarchy = "deadline"

    @admin.display(boolean=True, description="call open")
    def call_open(self, period: Period) -> bool:
        return period.call_is_open()


class ReadOnlyMixin:
    """Viewable by staff, never added, changed or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    show_change_link = False


class CoInvestigatorInline(ReadOnlyInline):
    model = CoInvestigator
    fields = ("email", "user", "invited_at")
    readonly_fields = fields


class TargetInline(ReadOnlyInline):
    model = Target
    fields = (
        "name",
        "ra_deg",
        "dec_deg",
        "magnitude",
        "pm_ra_mas_yr",
        "pm_dec_mas_yr",
    )
    readonly_fields = fields


class RunInline(ReadOnlyInline):
    model = ObservingRun
    fields = (
        "letter",
        "telescope",
        "instrument",
        "mode",
        "hours",
        "nights",
        "max_airmass",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("telescope", "instrument__telescope")


class FigureInline(ReadOnlyInline):
    model = Figure
    fields = ("caption", "image_format", "file")
    readonly_fields = fields

    @admin.display(description="file")
    def file(self, figure: Figure) -> str:
        # Through the view that checks visibility: media files have no public URL.
        url = reverse("proposals:figure_image", args=[figure.proposal_id, figure.pk])
        return format_html('<a href="{}">{}</a>', url, figure.image_format.upper())


class EventInline(ReadOnlyInline):
    model = ProposalEvent
    fields = ("at", "actor", "old", "new", "note")
    readonly_fields = fields


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["__str__", "title", "pi", "period", "category", "status", "submitted_at"]
    list_filter = ["period", "status", "category"]
    list_select_related = ["pi", "period"]
    search_fields = ["programme_id", "title", "pi__username", "pi__last_name", "pi__email"]
    date_hierarchy = "created_at"
    fields = (
        "title",
        "period",
        "pi",
        "category",
        "proposal_type",
        "abstract",
        "scientific_justification",
        "status",
        "programme_id",
        "programme_number",
        "version",
        "created_at",
        "updated_at",
        "submitted_at",
        "final_pdf_link",
    )
    readonly_fields = fields
    inlines = [CoInvestigatorInline, TargetInline, RunInline, FigureInline, EventInline]

    @admin.display(description="final PDF")
    def final_pdf_link(self, proposal: Proposal) -> str:
        if not proposal.final_pdf:
            return "—"
        url = reverse("proposals:pdf", args=[proposal.pk])
        return format_html('<a href="{}">{}.pdf</a>', url, proposal.programme_id or proposal.pk)


@admin.register(ProposalEvent)
class ProposalEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "proposal", "actor", "old", "new", "note"]
    list_filter = ["new", "old"]
    list_select_related = ["proposal", "actor"]
    search_fields = ["proposal__programme_id", "proposal__title", "actor__username"]
    date_hierarchy = "at"


# --- review configuration: data staff edit (the review's actions go through its services) ---


@admin.register(ReviewSetup)
class ReviewSetupAdmin(admin.ModelAdmin):
    list_display = [
        "period", "reviewers_per_proposal", "distributed_below_hours", "triage_share",
        "review_deadline", "started_at",
    ]  # fmt: skip
    readonly_fields = ["started_at"]


@admin.register(ReviewEvent)
class ReviewEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Who did what in the review (assignments, conflicts, decisions): the audit trail."""

    list_display = ["at", "period", "action", "proposal", "actor", "note"]
    list_filter = ["period", "action"]
