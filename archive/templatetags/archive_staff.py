"""Template tags of the archive's staff pages: the staff home's quarantine card (an inclusion
tag with its own selector, so the home view needs no archive context)."""

from typing import Any

from django import template

from archive import selectors_monitor
from dataflow.permissions import is_staff_member

register = template.Library()


@register.inclusion_tag("archive/staff/_home_card.html", takes_context=True)
def archive_quarantine_card(context: template.Context) -> dict[str, Any]:
    """The card "Archive: N quarantined files waiting", linking to the quarantine and the
    transfer monitor (one query; nothing for non-staff)."""
    staff = is_staff_member(context["request"].user)
    return {"staff": staff, "waiting": selectors_monitor.quarantine_waiting() if staff else 0}
