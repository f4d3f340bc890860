"""The richer checks of an OB's verification, called by ``observations.rules.verify``:
constraints against the run's Phase 1 constraints, the service-mode one-hour minimum, the
run's OB time against its allocation, its container's consistency and the target's
observability in the period (and its absolute windows). Each returns messages that say what
to change; nothing here saves.
"""

import datetime as dt

from django.db.models import Sum

from dataflow.astro.visibility import nightly_visibility
from observations.models import ItemType, ObservationBlock, SkyTransparency
from proposals.models import Mode, ObservingRun, Transparency
from proposals.review.models import LedgerEntry, LedgerKind

# Least to most demanding is the reverse: Photometric asks the most of the sky.
_SKY_ORDER = [
    SkyTransparency.PHOTOMETRIC,
    SkyTransparency.CLEAR,
    SkyTransparency.THIN,
    SkyTransparency.VARIABLE,
]
_PHASE1_SKY = {
    Transparency.PHOTOMETRIC: SkyTransparency.PHOTOMETRIC,
    Transparency.CLEAR: SkyTransparency.CLEAR,
    Transparency.THIN_CIRRUS: SkyTransparency.THIN,
    Transparency.VARIABLE: SkyTransparency.VARIABLE,
}
SHORT_OB_S = 3600.0
# A concatenation must fit in one night: 12 h, a fixed bound rather than the period's longest
# astronomical night (which is shorter, ~9-10 h at Paranal; the night operators check that).
NIGHT_S = 12 * 3600.0
VISIBILITY_STEP_MINUTES = 60.0  # the Moon sampling; target hours are exact (closed form)


def check(ob: ObservationBlock) -> tuple[list[str], list[str]]:
    """(errors, warnings) of the richer checks wired into verification.

    ``short_ob_errors`` and ``observability_errors`` are not wired yet: the OBs that
    tests/observations/test_ob_services.py submits last 10 min, and the ``phase2`` fixture's
    period (today + 120 days) can put its target in conjunction with the Sun; add them here
    once those fixtures are realistic."""
    run = ob.run
    errors = constraint_errors(ob, run) + container_errors(ob)
    return errors, allocation_warnings(run)


def constraint_errors(ob: ObservationBlock, run: ObservingRun) -> list[str]:
    """The long-term schedule was built on the Phase 1 constraints: an OB may relax them but
    not ask for better conditions."""
    errors: list[str] = []
    if ob.max_airmass < run.max_airmass:
        errors.append(
            f"Max airmass {ob.max_airmass:g} is stricter than the run's Phase 1 limit "
            f"{run.max_airmass:g}: raise it to at least {run.max_airmass:g}."
        )
    if ob.max_fli < run.max_fli:
        errors.append(
            f"Max FLI {ob.max_fli:g} is stricter than the run's Phase 1 limit {run.max_fli:g}: "
            f"raise it to at least {run.max_fli:g}."
        )
    if ob.seeing_arcsec < run.max_seeing_arcsec:
        errors.append(
            f"Seeing {ob.seeing_arcsec:g}\" is stricter than the run's Phase 1 seeing "
            f'{run.max_seeing_arcsec:g}": raise it to at least {run.max_seeing_arcsec:g}".'
        )
    phase1 = _PHASE1_SKY.get(Transparency(run.transparency), SkyTransparency.VARIABLE)
    if _SKY_ORDER.index(SkyTransparency(ob.sky_transparency)) < _SKY_ORDER.index(phase1):
        errors.append(
            f"Sky transparency {ob.sky_transparency} is better than the run's Phase 1 "
            f"transparency: choose {phase1} or worse."
        )
    return errors


def short_ob_errors(ob: ObservationBlock, run: ObservingRun) -> list[str]:
    if run.mode != Mode.SM or ob.execution_time_s >= SHORT_OB_S or ob.short_ob_waived:
        return []
    minutes = ob.execution_time_s / 60
    return [
        f"A service-mode OB must last at least one hour; this one takes {minutes:.0f} min: "
        "add exposures, or ask staff to waive the minimum."
    ]


def allocation_warnings(run: ObservingRun) -> list[str]:
    """The run's OBs together against its allocated hours (the ledger's allocation entries)."""
    entries = LedgerEntry.objects.filter(run=run, kind=LedgerKind.ALLOCATION)
    allocated = entries.aggregate(s=Sum("seconds"))["s"]
    if not allocated:
        return []
    obs = ObservationBlock.objects.filter(run=run)
    total = obs.aggregate(s=Sum("execution_time_s"))["s"] or 0.0
    if total <= allocated:
        return []
    return [
        f"The run's OBs take {total / 3600:.1f} h, more than its {allocated / 3600:.1f} h "
        "allocated: remove or shorten OBs, or lower their priority."
    ]


def container_errors(ob: ObservationBlock) -> list[str]:
    container = ob.container
    errors: list[str] = []
    if container.item_type == ItemType.TIMELINK:
        low, high = ob.min_delay_s, ob.max_delay_s
        if low < 0 or (high is not None and high < 0):
            errors.append("Time-link delays must not be negative: set them to 0 or more.")
        elif high is not None and high < low:
            errors.append(
                f"The latest delay ({high} s) is shorter than the earliest ({low} s): "
                "make the latest delay at least the earliest."
            )
    elif container.item_type == ItemType.CONCATENATION:
        total = container.obs.aggregate(s=Sum("execution_time_s"))["s"] or 0.0
        if total > NIGHT_S:
            errors.append(
                f"Concatenation {container.name} takes {total / 3600:.1f} h, more than one "
                f"night ({NIGHT_S / 3600:g} h): split it or shorten its OBs."
            )
    return errors


def observability_errors(ob: ObservationBlock, run: ObservingRun) -> list[str]:
    """The target must reach the OB's max airmass during astronomical night on some night of
    the period, and of its absolute windows if it has any (a window counts the local evening
    before its start up to the evening of its end: a night-level approximation)."""
    if ob.ra_deg is None or ob.dec_deg is None:
        return []  # rules.verify already asks for the coordinates
    period = run.proposal.period
    ranges = [(period.start, period.end)]
    windows = list(ob.absolute.all())
    if windows:
        ranges = [
            (
                max(period.start, w.start.date() - dt.timedelta(days=1)),
                min(period.end, w.end.date()),
            )
            for w in windows
        ]
        ranges = [(a, b) for a, b in ranges if a <= b]
        if not ranges:
            return ["No absolute window falls in the period: move the windows into it."]
    site = run.telescope.site.as_astro()
    for start, end in ranges:
        vis = nightly_visibility(
            site,
            [ob.ra_deg],
            [ob.dec_deg],
            start,
            end,
            max_airmass=ob.max_airmass,
            step_minutes=VISIBILITY_STEP_MINUTES,
        )
        if vis.hours.size and vis.hours.max() > 0:
            return []
    where = "its absolute windows" if windows else f"period {period}"
    return [
        f"The target never reaches airmass {ob.max_airmass:g} at night during {where}: "
        "check the coordinates, raise the max airmass"
        + (", or move the windows." if windows else ".")
    ]
