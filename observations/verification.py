"""The richer checks of an OB's verification, called by ``observations.rules.verify_many``:
constraints against the run's Phase 1 constraints, the service-mode one-hour minimum, the
run's OB time against its allocation, its container's consistency and the target's
observability in the period (and its absolute windows). Each returns messages that say what
to change; nothing here saves.
"""

import datetime as dt
from collections.abc import Iterable, Sequence

import numpy as np
from django.db.models import Sum

from dataflow.astro.visibility import nightly_visibility
from observations.models import Container, ItemType, ObservationBlock, SkyTransparency
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


Report = tuple[list[str], list[str]]  # (errors, warnings)


def check_many(obs: Sequence[ObservationBlock]) -> dict[int, Report]:
    """(errors, warnings) of the richer checks for each OB, by id. A constant number of
    queries and one sky computation per run, however many OBs: verifying a container asks
    this for all its OBs at once."""
    runs = ObservingRun.objects.select_related("proposal__period", "telescope__site").in_bulk(
        {ob.run_id for ob in obs}
    )
    containers = Container.objects.in_bulk({ob.container_id for ob in obs})
    lengths = concatenation_lengths(containers.values())
    reports: dict[int, Report] = {}
    for run_id, run in runs.items():
        mine = [ob for ob in obs if ob.run_id == run_id]
        warnings = allocation_warnings(run)
        unobservable = observability_errors_many(mine, run)
        for ob in mine:
            container = containers[ob.container_id]
            errors = (
                constraint_errors(ob, run)
                + short_ob_errors(ob, run)
                + container_errors(ob, container, lengths.get(container.pk, 0.0))
                + unobservable[ob.pk]
            )
            reports[ob.pk] = (errors, list(warnings))
    return reports


def concatenation_lengths(containers: Iterable[Container]) -> dict[int, float]:
    """Total execution time (s) of each concatenation among ``containers``."""
    ids = [c.pk for c in containers if c.item_type == ItemType.CONCATENATION]
    rows = (
        ObservationBlock.objects.filter(container_id__in=ids)
        .values("container_id")
        .annotate(s=Sum("execution_time_s"))
    )
    return {row["container_id"]: row["s"] or 0.0 for row in rows}


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


def container_errors(ob: ObservationBlock, container: Container, length_s: float) -> list[str]:
    """Its container's consistency as it concerns ``ob``: a time-link's delays, a
    concatenation's length (``length_s``, the total of its OBs) within one night."""
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
    elif container.item_type == ItemType.CONCATENATION and length_s > NIGHT_S:
        errors.append(
            f"Concatenation {container.name} takes {length_s / 3600:.1f} h, more than one "
            f"night ({NIGHT_S / 3600:g} h): split it or shorten its OBs."
        )
    return errors


def observability_errors_many(
    obs: Sequence[ObservationBlock], run: ObservingRun
) -> dict[int, list[str]]:
    """For each OB of ``run``: the target must reach the OB's max airmass during astronomical
    night on some night of the period, and within its absolute windows if it has any (a
    window counts from the local evening before its start to the evening of its end: a
    night-level approximation). One sky computation for all the OBs."""
    period = run.proposal.period
    errors: dict[int, list[str]] = {ob.pk: [] for ob in obs}
    placed = [ob for ob in obs if ob.ra_deg is not None and ob.dec_deg is not None]
    if not placed:
        return errors  # _completeness already asks for the coordinates
    vis = nightly_visibility(
        run.telescope.site.as_astro(),
        np.array([ob.ra_deg for ob in placed], dtype=float),
        np.array([ob.dec_deg for ob in placed], dtype=float),
        period.start,
        period.end,
        max_airmass=[ob.max_airmass for ob in placed],
        step_minutes=VISIBILITY_STEP_MINUTES,
    )
    dates = np.array(vis.dates, dtype="datetime64[D]")
    for i, ob in enumerate(placed):
        windows = list(ob.absolute.all())
        nights = np.ones(dates.size, dtype=bool)
        if windows:
            nights[:] = False
            for w in windows:
                first = np.datetime64(w.start.date() - dt.timedelta(days=1), "D")
                last = np.datetime64(w.end.date(), "D")
                nights |= (dates >= first) & (dates <= last)
            if not nights.any():
                errors[ob.pk].append(
                    "No absolute window falls in the period: move the windows into it."
                )
                continue
        if np.any(vis.hours[i][nights] > 0):
            continue
        where = "its absolute windows" if windows else f"period {period}"
        errors[ob.pk].append(
            f"The target never reaches airmass {ob.max_airmass:g} at night during {where}: "
            "check the coordinates, raise the max airmass"
            + (", or move the windows." if windows else ".")
        )
    return errors
