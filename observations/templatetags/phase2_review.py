"""Template tags of the Phase 2 review: the staff home's card and the astronomers' home box
(each an inclusion tag with its own selector, so the home views need no Phase 2 context), and
durations in hours."""

from typing import Any

from django import template

from observations import selectors_review

register = template.Library()


@register.filter
def hours(seconds: float | int | None) -> str:
    """``4050`` -> ``1.12 h``; ``None`` -> ``—``."""
    if seconds is None:
        return "—"
    return f"{float(seconds) / 3600:.2f} h"


@register.inclusion_tag("observations/review/_staff_card.html", takes_context=True)
def phase2_review_card(context: template.Context) -> dict[str, Any]:
    """The card "Phase 2: N OBs awaiting review", linking to the queue (one query)."""
    return {"pending": selectors_review.pending_count(context["request"].user)}


@register.inclusion_tag("observations/review/_my_runs.html", takes_context=True)
def my_phase2_runs(context: template.Context) -> dict[str, Any]:
    """The user's open Phase 2 runs: OBs by status, those sent back with staff's message
    (three queries)."""
    return {"my_runs": selectors_review.my_phase2_runs(context["request"].user)}
