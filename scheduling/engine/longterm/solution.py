"""A solved period: VM placements, SM reservations, the per-night schedule and its statistics.

Public API
----------
:class:`Solution`, :class:`Reservation`, :class:`SolveInfo`, :class:`Progress`,
:func:`score` (objective and grade-weighted hours of any solution),
:func:`night_labels` (what each telescope does on each half-night),
:func:`statistics` and :func:`format_statistics` (requested vs scheduled hours per class and
per RA bin, pressure, runs left out and why).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np

from scheduling.engine.longterm.feasibility import (
    HOUR_UNITS,
    feasible_starts,
    no_start_reason,
    preferred_bonus,
    run_weight,
    sm_plan,
    units,
    vm_hours,
    vm_value,
)
from scheduling.engine.longterm.problem import RANK_CLASSES, Problem, RankClass

TECH, CLOSED, SM, FREE = "TECH", "CLOSED", "SM", "FREE"


@dataclass(frozen=True)
class Progress:
    """Solver progress, in objective units (see :mod:`.feasibility`); ``bound`` is the best
    proven upper bound; ``elapsed_s`` wall seconds since the solve began."""

    objective: float
    bound: float
    elapsed_s: float

    @property
    def gap(self) -> float:
        return (self.bound - self.objective) / self.bound if self.bound > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


class PartInfo(TypedDict):
    """One independent part of a CP-SAT solve (see :attr:`SolveInfo.parts`)."""

    telescopes: str  # comma-separated names
    case: str  # a tabulated part's leaf case or center (see decompose.tabulate), else empty
    status: str
    wall_s: float
    objective: int
    bound: int | None
    winner: str
    vm_start_booleans: int


@dataclass(frozen=True)
class Reservation:
    """SM hours kept on ``telescope`` for one SM group in the block of nights
    ``first..last`` (night indices, inclusive)."""

    telescope: str
    first: int
    last: int
    instrument: str
    max_fli: float
    ra_bin: int
    hours: float


@dataclass(frozen=True)
class SolveInfo:
    """How a solution was obtained.

    ``objective`` and ``bound`` are in objective units. ``objective`` is the delivered
    schedule's (SM hours night by night); ``bound`` is the proven bound of CP-SAT's block
    model (sum over parts) and ``cpsat_objective`` that model's best objective: the delivery
    may land a little above or below the model, so ``gap`` (delivered against the bound) is
    floored at zero.
    ``winner`` says whose schedule was kept: ``cp-sat`` (better than the greedy hint),
    ``tie``, ``greedy`` (CP-SAT found nothing better in time), ``repair`` (a linked pair of
    telescopes solved apart and repaired), or counts per part such as ``2 cp-sat, 1 tie``.
    ``status`` is CP-SAT's (``OPTIMAL`` only if every part is proven optimal, ``FEASIBLE``,
    ``UNKNOWN``) or ``HEURISTIC`` for the greedy solver. ``parts`` has one entry per
    independent part (telescopes, status, wall seconds, objective, bound, winner).
    """

    solver: str
    status: str
    objective: int
    bound: int | None
    wall_s: float
    greedy_objective: int | None = None
    winner: str = ""
    cpsat_objective: int | None = None
    model_size: Mapping[str, int] = field(default_factory=dict)
    parts: tuple[PartInfo, ...] = ()
    improvement: int = 0
    """Objective units added by the end-of-solve pass (:mod:`.improve`)."""
    sm_model_hours: float | None = None
    """SM hours the solver's block model promised; the schedule counts only the hours the
    night-by-night delivery finds (:mod:`.smflow`)."""

    @property
    def gap(self) -> float | None:
        if self.bound is None or self.bound <= 0:
            return None
        return max(0.0, (self.bound - self.objective) / self.bound)


@dataclass(frozen=True)
class Solution:
    """A schedule.

    Parameters
    ----------
    vm_starts : Mapping[str, int]
        VM run id -> start slot (``2 * night + half``); runs not in it are left out.
    sm_served : Mapping[str, float]
        SM run id -> hours a queue can deliver to it (the sum of its ``sm_nights``).
    reservations : tuple[Reservation, ...]
        SM hours per group and block of nights (the ``sm_nights`` of the group's runs).
    info : SolveInfo
    sm_nights : Mapping[str, Mapping[int, float]]
        SM run id -> night index -> hours: where its served hours come from.
    """

    vm_starts: Mapping[str, int]
    sm_served: Mapping[str, float]
    reservations: tuple[Reservation, ...]
    info: SolveInfo
    sm_nights: Mapping[str, Mapping[int, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Score:
    objective: int  # solver objective units, including the preferred-date bonus
    weighted_hours: float  # sum of weight x hours (weight per tenth of an hour, see feasibility)
    bonus: int  # preferred-date bonus units
    hours: float  # plain scheduled hours (VM at the period's mean night + SM)


def score(problem: Problem, vm_starts: Mapping[str, int], sm_served: Mapping[str, float]) -> Score:
    """Objective of a schedule, computed from the problem alone (solver-independent)."""
    value = bonus = 0
    hours = 0.0
    for rid, start in vm_starts.items():
        run = problem.run(rid)
        value += vm_value(problem, run)
        bonus += int(preferred_bonus(problem, run, np.array([start]))[0])
        hours += vm_hours(problem, run)
    for rid, h in sm_served.items():
        run = problem.run(rid)
        value += run_weight(run) * units(h)
        hours += h
    return Score(value + bonus, value / HOUR_UNITS, bonus, hours)


# ------------------------------------------------------------------------ per-night schedule


def night_labels(problem: Problem, solution: Solution) -> dict[str, list[list[str]]]:
    """telescope -> per night ``[first half, second half]`` labels: a VM run id, ``SM``,
    ``TECH``, ``CLOSED`` or ``FREE``.

    A night's SM hours (``solution.sm_nights``) label as many of its free half-nights ``SM``
    as they fill; further free half-nights are ``FREE``.
    """
    d = problem.n_nights
    out: dict[str, list[list[str]]] = {}
    for tel in problem.telescopes:
        labels = [[FREE, FREE] for _ in range(d)]
        for i in problem.indices(tel.technical):
            labels[i] = [TECH, TECH]
        for i in problem.indices(tel.closed):
            labels[i] = [CLOSED, CLOSED]
        out[tel.name] = labels
    for rid, start in solution.vm_starts.items():
        run = problem.run(rid)
        for s in range(start, start + run.slots):
            out[run.telescope][s // 2][s % 2] = rid
    sm_hours: dict[tuple[str, int], float] = {}
    for rid, per_night in solution.sm_nights.items():
        tel_name = problem.run(rid).telescope
        for night, hours in per_night.items():
            sm_hours[(tel_name, night)] = sm_hours.get((tel_name, night), 0.0) + hours
    for (tel_name, night), hours in sm_hours.items():
        half = max(float(problem.dark_hours[night]) / 2, 1e-9)
        halves = int(np.ceil(hours / half - 1e-6))
        for h in (0, 1):
            if halves > 0 and out[tel_name][night][h] == FREE:
                out[tel_name][night][h] = SM
                halves -= 1
    return out


# ------------------------------------------------------------------------------- statistics


@dataclass
class HoursRow:
    vm_requested: float = 0.0
    vm_scheduled: float = 0.0
    sm_requested: float = 0.0
    sm_scheduled: float = 0.0

    @property
    def requested(self) -> float:
        return self.vm_requested + self.sm_requested

    @property
    def scheduled(self) -> float:
        return self.vm_scheduled + self.sm_scheduled

    @property
    def sm_shortfall(self) -> float:
        return self.sm_requested - self.sm_scheduled


@dataclass(frozen=True)
class LeftOut:
    run: str
    mode: str
    rank_class: str
    grade: float
    missing_hours: float
    reason: str


@dataclass(frozen=True)
class TelescopePressure:
    telescope: str
    nights_available: float  # not technical or closed
    vm_nights_requested: float
    vm_nights_scheduled: float
    sm_hours_requested: float
    sm_hours_left: float  # astronomical-night hours not taken by VM, technical or closed
    sm_hours_reserved: float

    @property
    def vm_pressure(self) -> float:
        return self.vm_nights_requested / max(self.nights_available, 1e-9)

    @property
    def sm_pressure(self) -> float:
        return self.sm_hours_requested / max(self.sm_hours_left, 1e-9)


@dataclass(frozen=True)
class Statistics:
    """Hours are VM at the period's mean night length plus SM hours."""

    by_class: dict[RankClass, HoursRow]
    by_ra_bin: list[HoursRow]
    pressure: list[TelescopePressure]
    left_out: list[LeftOut]
    score: Score
    sm_deliverable_hours: float
    """SM hours the night-by-night assignment delivers (``Solution.sm_nights``)."""
    sm_model_hours: float | None
    """SM hours the solver's block model promised (None for a schedule without one)."""


def statistics(problem: Problem, solution: Solution) -> Statistics:
    by_class = {c: HoursRow() for c in RANK_CLASSES}
    by_ra = [HoursRow() for _ in range(problem.ra_bins)]
    for run in problem.runs:
        rows = (by_class[run.rank_class], by_ra[problem.ra_bin(run.ra_deg)])
        for row in rows:
            if run.mode == "VM":
                row.vm_requested += vm_hours(problem, run)
                if run.id in solution.vm_starts:
                    row.vm_scheduled += vm_hours(problem, run)
            else:
                row.sm_requested += run.hours
                row.sm_scheduled += solution.sm_served.get(run.id, 0.0)
    labels = night_labels(problem, solution)
    pressure = []
    for tel in problem.telescopes:
        unavail = problem.unavailable(tel.name)
        vm = [r for r in problem.runs if r.telescope == tel.name and r.mode == "VM"]
        sm = [r for r in problem.runs if r.telescope == tel.name and r.mode == "SM"]
        free = sum(
            problem.dark_hours[i] / 2
            for i, halves in enumerate(labels[tel.name])
            for x in halves
            if x in (SM, FREE)
        )
        pressure.append(
            TelescopePressure(
                telescope=tel.name,
                nights_available=float((~unavail).sum()),
                vm_nights_requested=sum(r.nights for r in vm),
                vm_nights_scheduled=sum(r.nights for r in vm if r.id in solution.vm_starts),
                sm_hours_requested=sum(r.hours for r in sm),
                sm_hours_left=float(free),
                sm_hours_reserved=sum(
                    x.hours for x in solution.reservations if x.telescope == tel.name
                ),
            )
        )
    return Statistics(
        by_class=by_class,
        by_ra_bin=by_ra,
        pressure=pressure,
        left_out=left_out(problem, solution, labels),
        score=score(problem, solution.vm_starts, solution.sm_served),
        sm_deliverable_hours=sum(sum(n.values()) for n in solution.sm_nights.values()),
        sm_model_hours=solution.info.sm_model_hours,
    )


def left_out(
    problem: Problem, solution: Solution, labels: dict[str, list[list[str]]] | None = None
) -> list[LeftOut]:
    """Every VM run not scheduled and every SM run not fully served, with the reason."""
    labels = labels if labels is not None else night_labels(problem, solution)
    out: list[LeftOut] = []
    starts_of = {r.id: feasible_starts(problem, r) for r in problem.runs if r.mode == "VM"}
    partners: dict[str, list[str]] = {}
    for link in problem.links:
        partners.setdefault(link.first, []).append(link.second)
        partners.setdefault(link.second, []).append(link.first)
    for run in problem.runs:
        if run.mode != "VM" or run.id in solution.vm_starts:
            continue
        starts = starts_of[run.id]
        if len(starts) == 0:
            reason = no_start_reason(problem, run)
        elif any(len(starts_of[p]) == 0 for p in partners.get(run.id, [])):
            bad = [p for p in partners[run.id] if len(starts_of[p]) == 0]
            reason = f"linked to {', '.join(bad)}, which has no feasible nights"
        else:
            blockers: set[str] = set()
            open_start = False
            for s in starts:
                taken = {
                    labels[run.telescope][x // 2][x % 2] for x in range(int(s), int(s) + run.slots)
                } - {SM, FREE}
                blockers |= taken
                open_start = open_start or not taken
            if open_start:
                why = "links" if run.id in partners else "SM time"
                reason = (
                    f"{len(starts)} feasible starts, some still free: left out by the "
                    f"optimiser in favour of {why}"
                )
            else:
                cls = [problem.run(b).rank_class for b in blockers if b not in (TECH, CLOSED)]
                counts = ", ".join(f"{cls.count(c)} {c}" for c in RANK_CLASSES if cls.count(c))
                example = ", ".join(sorted(blockers)[:3])
                reason = (
                    f"all {len(starts)} feasible starts taken by other runs "
                    f"({counts}; e.g. {example})"
                )
        out.append(LeftOut(run.id, "VM", run.rank_class, run.grade, vm_hours(problem, run), reason))
    plan = sm_plan(problem)
    for g in plan.groups:
        tel, inst, fli, rbin = g.key
        free_halves = np.array(
            [sum(x in (SM, FREE) for x in halves) for halves in labels[tel]], dtype=int
        )
        capacity = nights_total = 0.0
        for k in plan.blocks_of.get(tel, []):
            b = plan.blocks[k]
            f = int(free_halves[b.first : b.last + 1].sum())
            capacity += plan.group_rate.get((g.key, k), 0) * f / HOUR_UNITS
            nights_total += plan.total_rate[k] * f / HOUR_UNITS
        demand = sum(problem.run(m).hours for m in g.members)
        for m in g.members:
            run = problem.run(m)
            served = solution.sm_served.get(m, 0.0)
            if served >= run.hours - 0.05:
                continue
            lo, hi = rbin * 24 / problem.ra_bins, (rbin + 1) * 24 / problem.ra_bins
            where = f"{tel} {inst} FLI <= {fli:.2f} RA {lo:.0f}-{hi:.0f} h"
            if capacity < demand:
                why = (
                    f"{where} has {capacity:.0f} h of visible SM time for {demand:.0f} h requested"
                )
            else:
                why = (
                    f"{where} has {capacity:.0f} h of visible SM time for {demand:.0f} h "
                    "requested, but shares those nights with other SM groups and VM runs"
                )
            reason = (
                f"served {served:.1f} of {run.hours:.1f} h: {why} "
                f"({nights_total:.0f} h of SM nights on {tel})"
            )
            out.append(LeftOut(m, "SM", run.rank_class, run.grade, run.hours - served, reason))
    return out


def format_statistics(problem: Problem, stats: Statistics, max_left_out: int = 10) -> str:
    """Plain-text report of :func:`statistics`."""
    lines = ["hours (VM at the period's mean night)   requested  scheduled      %"]
    for c, row in stats.by_class.items():
        pct = 100 * row.scheduled / row.requested if row.requested else 0.0
        lines.append(f"  class {c:<31} {row.requested:9.0f} {row.scheduled:10.0f} {pct:6.1f}")
    lines.append("RA bin        VM req  VM sched   SM req  SM sched  SM short")
    width = 24 / problem.ra_bins
    for b, row in enumerate(stats.by_ra_bin):
        lines.append(
            f"  {b * width:4.1f}-{(b + 1) * width:4.1f} h {row.vm_requested:7.0f} "
            f"{row.vm_scheduled:9.0f} {row.sm_requested:8.0f} {row.sm_scheduled:9.0f} "
            f"{row.sm_shortfall:9.0f}"
        )
    lines.append("telescope  nights  VM req  VM sched  VM press   SM req  SM left  SM press")
    for p in stats.pressure:
        lines.append(
            f"  {p.telescope:<8} {p.nights_available:6.0f} {p.vm_nights_requested:7.1f} "
            f"{p.vm_nights_scheduled:9.1f} {p.vm_pressure:9.2f} {p.sm_hours_requested:8.0f} "
            f"{p.sm_hours_left:8.0f} {p.sm_pressure:9.2f}"
        )
    vm_out = [x for x in stats.left_out if x.mode == "VM"]
    sm_out = [x for x in stats.left_out if x.mode == "SM"]
    lines.append(f"VM runs left out: {len(vm_out)}; SM runs short: {len(sm_out)}")
    ranked = sorted(stats.left_out, key=lambda x: (x.rank_class, x.grade, x.run))
    for x in ranked[:max_left_out]:
        lines.append(f"  {x.run} {x.mode} {x.rank_class} grade {x.grade:.1f}: {x.reason}")
    return "\n".join(lines)
