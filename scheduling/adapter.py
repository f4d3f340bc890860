"""The period's approved runs and the observatory calendar as a long-term scheduling
:class:`~scheduling.engine.longterm.problem.Problem` (the one bridge from Django to the pure core).

* Runs: the approved runs (``RunDecision.approved``) of the period's proposals that are approved
  or still under review. SM: hours allocated in the ledger, the decision's rank class. VM: the
  decision's nights, rank class A (VM runs have none; a night given is a night kept). Grade: the
  proposal's ranking grade (the chair's, else the normalised mean), 3.0 when ungraded.
* Sky: one :func:`~scheduling.engine.longterm.sky.sky_arrays` call per site for every distinct
  (target, airmass limit) of its runs; proper motion is ignored (a period moves no target by a
  visibility-relevant amount).
* Calendar: ``CalendarNight`` (technical / closed), ``InstrumentMount`` (an instrument without
  rows is always mounted), ``RunLink`` and ``RunPin``.

Input the engine would refuse outright (a pin outside the period or on a run that is not an
approved VM run, a link to such a run) is left out of the problem and kept in
:attr:`PeriodProblem.issues`, so :func:`check_period_problem` names it with the rest.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.db.models import Sum

from dataflow.observatory.models import Instrument, Site
from dataflow.observatory.models import Telescope as TelescopeModel
from proposals.models import Mode, ObservingRun, Period, ProposalStatus
from proposals.review.models import LedgerEntry, LedgerKind, RunDecision
from proposals.review.selectors import merged_ranking
from scheduling.engine.longterm.feasibility import (
    check_pins,
    link_satisfied,
    no_start_reason,
    vm_options,
)
from scheduling.engine.longterm.problem import Link, Pin, Problem, RankClass, Run, Telescope
from scheduling.engine.longterm.sky import SkyArrays, sky_arrays
from scheduling.models import CalendarNight, InstrumentMount, NightKind, RunLink, RunPin

UNGRADED = 3.0
"""Grade of a proposal without any (the middle of 1..5)."""
SCHEDULED_STATUSES = (ProposalStatus.APPROVED, ProposalStatus.UNDER_REVIEW)


@dataclass(frozen=True)
class PeriodProblem:
    problem: Problem  # engine input
    runs: dict[str, ObservingRun]  # engine run id -> the Django run (ids like "119.C-0042(A)")
    issues: tuple[str, ...] = ()  # input left out of the problem, each naming its runs


def problem_for_period(period: Period) -> PeriodProblem:
    """The long-term scheduling problem of ``period`` (see the module docstring)."""
    dates = _nights(period.start, period.end)
    decisions = list(
        RunDecision.objects.filter(
            approved=True,
            run__proposal__period=period,
            run__proposal__status__in=SCHEDULED_STATUSES,
        )
        .select_related("run__proposal", "run__telescope__site", "run__instrument")
        .prefetch_related("run__targets")
        .order_by("run__proposal__programme_number", "run__letter")
    )
    seconds = dict(
        LedgerEntry.objects.filter(
            run__in=[d.run_id for d in decisions], kind=LedgerKind.ALLOCATION
        )
        .values("run_id")
        .annotate(total=Sum("seconds"))
        .values_list("run_id", "total")
    )
    grades = {row.proposal.pk: row.grade for row in merged_ranking(period)}
    issues: list[str] = []
    telescopes = list(TelescopeModel.objects.select_related("site").order_by("name"))
    primary_site = _primary_site(telescopes, decisions)
    skies = _skies(period, primary_site, [d.run for d in decisions])
    primary = skies[primary_site.pk].sky

    runs: list[Run] = []
    by_id: dict[str, ObservingRun] = {}
    for decision in decisions:
        obs = decision.run
        rid = str(obs)
        is_vm = obs.mode == Mode.VM
        nights = float(decision.allocated_nights or obs.nights or 0.0) if is_vm else 0.0
        hours = 0.0 if is_vm else seconds.get(obs.pk, 0) / 3600
        if is_vm and nights <= 0:
            issues.append(f"{rid}: approved in visitor mode without nights, left out")
            continue
        if not is_vm and hours <= 0:
            issues.append(f"{rid}: approved in service mode with no hours allocated, left out")
            continue
        grade = grades.get(obs.proposal_id)
        runs.append(
            Run(
                id=rid,
                telescope=obs.telescope.name,
                instrument=obs.instrument.name,
                mode="VM" if is_vm else "SM",
                rank_class="A" if is_vm else _rank_class(decision.rank_class),
                grade=float(grade) if grade is not None else UNGRADED,
                visible_hours=skies[obs.telescope.site_id].run_hours(obs),
                ra_deg=_mean_ra([t.ra_deg for t in obs.targets.all()]),
                max_fli=float(obs.max_fli),
                nights=nights,
                hours=hours,
                preferred=_dates(obs.preferred_dates) if is_vm else frozenset(),
                impossible=_dates(obs.impossible_dates) if is_vm else frozenset(),
            )
        )
        by_id[rid] = obs

    vm = {r.id: r for r in runs if r.mode == "VM"}
    by_pk = {obs.pk: rid for rid, obs in by_id.items()}
    links, link_issues = _links(period, vm, by_pk)
    pins, pin_issues = _pins(period, vm, by_pk, dates)
    problem = Problem(
        dates=primary.dates,
        dark_hours=primary.dark_hours,
        moon_fli=primary.moon_fli,
        telescopes=tuple(_telescope(t, dates) for t in telescopes),
        runs=tuple(runs),
        links=tuple(links),
        pins=tuple(pins),
    )
    return PeriodProblem(
        problem=problem, runs=by_id, issues=tuple(issues + link_issues + pin_issues)
    )


def check_period_problem(pp: PeriodProblem) -> list[str]:
    """Inconsistent input, found before any solve, each message naming the runs: pins that
    cannot be honoured (technical, closed or unmounted nights, overlaps, broken links), input
    left out of the problem, links whose two runs cannot both fit, approved VM runs that fit
    nowhere. ``[]`` when the problem is fine."""
    problem = pp.problem
    options = vm_options(problem)
    messages = list(pp.issues)
    messages += check_pins(problem, options)
    for rid, option in options.items():
        if len(option.starts) == 0:
            messages.append(f"{rid} fits nowhere: {no_start_reason(problem, option.run)}")
    for link in problem.links:
        first, second = options[link.first], options[link.second]
        if len(first.starts) == 0 or len(second.starts) == 0:
            continue  # named above as fitting nowhere
        if not _link_fits(link, first.run, second.run, first.starts, second.starts):
            messages.append(
                f"{link.describe()}: {link.first} and {link.second} cannot both fit "
                f"({len(first.starts)} and {len(second.starts)} possible starts, none together)"
            )
    return messages


# ------------------------------------------------------------------------------------ helpers


def _nights(start: dt.date, end: dt.date) -> tuple[dt.date, ...]:
    return tuple(start + dt.timedelta(days=i) for i in range((end - start).days + 1))


@dataclass(frozen=True)
class _SiteSky:
    """The sky of one site: arrays per distinct (target, airmass limit) column."""

    sky: SkyArrays
    column: dict[tuple[int, float], int]

    def run_hours(self, run: ObservingRun) -> np.ndarray:
        cols = [self.column[(t.pk, float(run.max_airmass))] for t in run.targets.all()]
        if not cols:  # verification refuses runs without targets; keep the engine well-fed
            return np.zeros(len(self.sky.dates))
        return self.sky.run_hours(cols)


def _skies(period: Period, primary: Site, runs: list[ObservingRun]) -> dict[int, _SiteSky]:
    """One sky computation per site of the runs and for the primary site (night lengths)."""
    sites: dict[int, Site] = {primary.pk: primary}
    columns: dict[int, dict[tuple[int, float], tuple[float, float]]] = {primary.pk: {}}
    for run in runs:
        sites.setdefault(run.telescope.site_id, run.telescope.site)
        cols = columns.setdefault(run.telescope.site_id, {})
        for target in run.targets.all():
            cols[(target.pk, float(run.max_airmass))] = (target.ra_deg, target.dec_deg)
    out: dict[int, _SiteSky] = {}
    for site_id, cols in columns.items():
        keys = list(cols)
        ra = np.array([cols[k][0] for k in keys], dtype=float)
        dec = np.array([cols[k][1] for k in keys], dtype=float)
        airmass = np.array([k[1] for k in keys], dtype=float)
        sky = sky_arrays(sites[site_id].as_astro(), ra, dec, period.start, period.end, airmass)
        out[site_id] = _SiteSky(sky, {k: i for i, k in enumerate(keys)})
    return out


def _primary_site(telescopes: list[TelescopeModel], decisions: list[RunDecision]) -> Site:
    """The site whose night lengths and moon the problem uses (the engine has one sky per
    period): the site of most runs, else of the first telescope."""
    counts: dict[int, int] = defaultdict(int)
    sites = {t.site_id: t.site for t in telescopes}
    for d in decisions:
        counts[d.run.telescope.site_id] += 1
        sites.setdefault(d.run.telescope.site_id, d.run.telescope.site)
    if counts:
        return sites[max(counts, key=lambda s: (counts[s], -s))]
    return telescopes[0].site


def _mean_ra(ra_deg: list[float]) -> float:
    """Circular mean of right ascensions, degrees in [0, 360)."""
    if not ra_deg:
        return 0.0
    rad = np.radians(ra_deg)
    return float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())) % 360.0)


def _dates(values: object) -> frozenset[dt.date]:
    out: set[dt.date] = set()
    for value in values if isinstance(values, list) else []:
        try:
            out.add(dt.date.fromisoformat(str(value)))
        except ValueError:
            continue  # the Phase 1 rules refuse bad dates; an old row does not stop the solve
    return frozenset(out)


def _rank_class(value: str) -> RankClass:
    if value == "A":
        return "A"
    if value == "B":
        return "B"
    return "C"


def _telescope(telescope: TelescopeModel, dates: tuple[dt.date, ...]) -> Telescope:
    start, end = dates[0], dates[-1]
    nights = CalendarNight.objects.filter(telescope=telescope, date__range=(start, end))
    technical = frozenset(n.date for n in nights if n.kind == NightKind.TECHNICAL)
    closed = frozenset(n.date for n in nights if n.kind == NightKind.CLOSED)
    day = np.array([np.datetime64(d) for d in dates])
    mounted: dict[str, np.ndarray] = {}
    mounts: dict[int, list[InstrumentMount]] = defaultdict(list)
    for mount in InstrumentMount.objects.filter(instrument__telescope=telescope):
        mounts[mount.instrument_id].append(mount)
    for instrument in Instrument.objects.filter(telescope=telescope):
        rows = mounts.get(instrument.pk, [])
        if not rows:
            mounted[instrument.name] = np.ones(len(dates), dtype=bool)
            continue
        mask = np.zeros(len(dates), dtype=bool)
        for row in rows:
            mask |= (day >= np.datetime64(row.start)) & (day <= np.datetime64(row.end))
        mounted[instrument.name] = mask
    return Telescope(telescope.name, mounted=mounted, technical=technical, closed=closed)


def _links(
    period: Period, vm: dict[str, Run], by_pk: dict[int, str]
) -> tuple[list[Link], list[str]]:
    links: list[Link] = []
    issues: list[str] = []
    rows = RunLink.objects.filter(first__proposal__period=period).select_related(
        "first__proposal", "second__proposal"
    )
    for row in rows:
        first, second = by_pk.get(row.first_id), by_pk.get(row.second_id)
        names = f"link {row.first} - {row.second}"
        missing = [str(r) for r, rid in ((row.first, first), (row.second, second)) if rid not in vm]
        if first is None or second is None or missing:
            issues.append(f"{names}: {', '.join(missing)} is not an approved visitor-mode run")
            continue
        if row.kind == "same_nights" and vm[first].telescope == vm[second].telescope:
            issues.append(f"{names}: same nights asked for two runs on {vm[first].telescope}")
            continue
        links.append(
            Link(
                first,
                second,
                kind="same_nights" if row.kind == "same_nights" else "apart",
                min_days=row.min_days,
                max_days=row.max_days,
                ordered=row.ordered,
            )
        )
    return links, issues


def _pins(
    period: Period, vm: dict[str, Run], by_pk: dict[int, str], dates: tuple[dt.date, ...]
) -> tuple[list[Pin], list[str]]:
    pins: list[Pin] = []
    issues: list[str] = []
    rows = RunPin.objects.filter(run__proposal__period=period).select_related("run__proposal")
    for row in rows:
        rid = by_pk.get(row.run_id)
        pin = Pin(str(row.run), row.start, row.second_half)
        if rid is None or rid not in vm:
            issues.append(f"{pin.describe()}: {row.run} is not an approved visitor-mode run")
        elif not dates[0] <= row.start <= dates[-1]:
            issues.append(
                f"{pin.describe()} is outside the period "
                f"({dates[0].isoformat()} to {dates[-1].isoformat()})"
            )
        else:
            pins.append(pin)
    return pins, issues


def _link_fits(
    link: Link, first: Run, second: Run, starts1: np.ndarray, starts2: np.ndarray
) -> bool:
    """Whether some pair of feasible starts honours ``link`` (and, on one telescope, does not
    overlap)."""
    same_telescope = first.telescope == second.telescope
    for s1 in starts1.tolist():
        for s2 in starts2.tolist():
            if not link_satisfied(link, s1, s2):
                continue
            if same_telescope and s1 < s2 + second.slots and s2 < s1 + first.slots:
                continue
            return True
    return False
