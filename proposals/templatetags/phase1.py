"""Template filters of the Phase 1 pages: coordinates as sexagesimal, runs in one line."""

from django import template

from proposals.coordinates import format_dec, format_ra
from proposals.models import ObservingRun

register = template.Library()


@register.filter
def ra(deg: float | None) -> str:
    return "" if deg is None else format_ra(deg)


@register.filter
def dec(deg: float | None) -> str:
    return "" if deg is None else format_dec(deg)


@register.filter
def run_summary(run: ObservingRun) -> str:
    """``A: UT1 / FORS2, SM, 4 h``."""
    return (
        f"{run.letter}: {run.telescope.name} / {run.instrument.name}, {run.mode}, "
        f"{run.requested_time_label}"
    )
