"""Independent verification of a long-term schedule.

:func:`check_solution` re-derives every hard constraint from the problem's raw arrays, with
its own code (it imports nothing from the solvers nor from :mod:`.feasibility`), and returns
the list of violations: empty means valid. The tests and the benchmark run it on every
solution.

Checked: VM runs exist, start on a legal slot and fit in the period; each night they use is
neither technical nor closed, has their instrument mounted, a moon FLI within their limit,
is not one of their impossible dates and has enough target visibility; no two runs share a
telescope half-night; links (both-or-neither, same nights, day distances) and pins; SM hours
night by night (each run's hours on nights it can use, within its visible share of the free
half-nights, all runs within those half-nights, served hours covered by the reservations);
the claimed objective equals the one recomputed here from the problem (:func:`objective`, its
own code, not the solvers' ``score``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scheduling.engine.longterm.problem import Problem, Run
from scheduling.engine.longterm.solution import Solution

_EPS = 1e-6


def check_solution(problem: Problem, solution: Solution, check_objective: bool = True) -> list[str]:
    """Violations of the hard constraints by ``solution`` (empty list = valid)."""
    errors: list[str] = []
    d = problem.n_nights
    runs = {r.id: r for r in problem.runs}
    index = {day: i for i, day in enumerate(problem.dates)}
    busy: dict[tuple[str, int], str] = {}
    unavailable: dict[str, set[int]] = {
        t.name: {index[x] for x in t.technical | t.closed if x in index} for t in problem.telescopes
    }
    mounted = {t.name: t.mounted for t in problem.telescopes}

    for rid, start in solution.vm_starts.items():
        run = runs.get(rid)
        if run is None or run.mode != "VM":
            errors.append(f"{rid}: scheduled as VM but is not a VM run")
            continue
        length = int(round(2 * run.nights))
        if length % 2 == 0 and start % 2 == 1:
            errors.append(f"{rid}: whole-night run starts on a second half")
        if start < 0 or start + length > 2 * d:
            errors.append(f"{rid}: slots {start}..{start + length - 1} outside the period")
            continue
        halves_per_night: dict[int, int] = {}
        for s in range(start, start + length):
            halves_per_night[s // 2] = halves_per_night.get(s // 2, 0) + 1
            other = busy.get((run.telescope, s))
            if other is not None:
                errors.append(
                    f"{rid} and {other} both on {run.telescope} "
                    f"{problem.dates[s // 2].isoformat()} half {s % 2}"
                )
            busy[(run.telescope, s)] = rid
        for night, halves in halves_per_night.items():
            errors += _night_errors(problem, run, night, halves, unavailable, mounted)

    for link in problem.links:
        a, b = link.first in solution.vm_starts, link.second in solution.vm_starts
        if a != b:
            errors.append(f"{link.describe()}: only one of the two runs is scheduled")
        elif a:
            s1, s2 = solution.vm_starts[link.first], solution.vm_starts[link.second]
            if link.kind == "same_nights":
                if s1 != s2:
                    errors.append(f"{link.describe()}: starts differ ({s1} vs {s2})")
            else:
                diff = s2 // 2 - s1 // 2
                if not link.ordered:
                    diff = abs(diff)
                if (link.min_days is not None and diff < link.min_days) or (
                    link.max_days is not None and diff > link.max_days
                ):
                    errors.append(f"{link.describe()}: runs are {diff} nights apart")

    for pin in problem.pins:
        want = 2 * index[pin.start] + int(pin.second_half)
        got = solution.vm_starts.get(pin.run)
        if got != want:
            errors.append(f"{pin.describe()}: scheduled at slot {got}, pinned slot {want}")

    errors += _sm_errors(problem, solution, runs, busy, unavailable, mounted)

    if check_objective:
        actual = objective(problem, solution)
        if actual != solution.info.objective:
            errors.append(f"claimed objective {solution.info.objective} != recomputed {actual}")
    return errors


def _night_errors(
    problem: Problem,
    run: Run,
    night: int,
    halves: int,
    unavailable: dict[str, set[int]],
    mounted: dict[str, Mapping[str, np.ndarray]],
) -> list[str]:
    day = problem.dates[night]
    out = []
    if night in unavailable[run.telescope]:
        out.append(f"{run.id}: {day.isoformat()} is technical or closed on {run.telescope}")
    if not bool(mounted[run.telescope][run.instrument][night]):
        out.append(f"{run.id}: {run.instrument} not mounted on {day.isoformat()}")
    if problem.moon_fli[night] > run.max_fli + _EPS:
        out.append(
            f"{run.id}: moon FLI {problem.moon_fli[night]:.2f} > {run.max_fli} on {day.isoformat()}"
        )
    if day in run.impossible:
        out.append(f"{run.id}: {day.isoformat()} is an impossible date")
    need = run.min_visible_fraction * problem.dark_hours[night] * halves / 2
    if run.visible_hours[night] < need - _EPS:
        out.append(f"{run.id}: targets visible {run.visible_hours[night]:.2f} h < {need:.2f} h")
    return out


def _sm_errors(
    problem: Problem,
    solution: Solution,
    runs: dict[str, Run],
    busy: dict[tuple[str, int], str],
    unavailable: dict[str, set[int]],
    mounted: dict[str, Mapping[str, np.ndarray]],
) -> list[str]:
    """SM hours night by night: each run's hours per night (``sm_nights``) add up to what it
    is served, fall on nights where the telescope is open, its moon limit holds and its
    instrument is mounted, within its visible share of the half-nights VM leaves free, and
    all runs together within those half-nights; the group reservations cover the served
    hours."""
    errors: list[str] = []
    d = problem.n_nights
    width = 360.0 / problem.ra_bins
    free: dict[str, np.ndarray] = {}
    for t in problem.telescopes:
        f = np.full(d, 2.0)
        for night in unavailable[t.name]:
            f[night] = 0.0
        free[t.name] = f
    for tel, s in busy:
        free[tel][s // 2] -= 1.0
    used = {t.name: np.zeros(d) for t in problem.telescopes}

    def group(run: Run) -> tuple[str, str, float, int]:
        rbin = int((run.ra_deg % 360.0) // width) % problem.ra_bins
        return (run.telescope, run.instrument, float(run.max_fli), rbin)

    served_by_group: dict[tuple[str, str, float, int], float] = {}
    for rid, hours in solution.sm_served.items():
        run = runs.get(rid)
        if run is None or run.mode != "SM":
            errors.append(f"{rid}: SM hours served but it is not an SM run")
            continue
        if hours < -_EPS or hours > run.hours + 0.05 + _EPS:
            errors.append(f"{rid}: served {hours:.2f} h of {run.hours:.2f} h requested")
        served_by_group[group(run)] = served_by_group.get(group(run), 0.0) + hours
        per_night = solution.sm_nights.get(rid, {})
        if abs(sum(per_night.values()) - hours) > 0.05 + _EPS:
            errors.append(
                f"{rid}: served {hours:.2f} h but its nights add up to "
                f"{sum(per_night.values()):.2f} h"
            )
    for rid, per_night in solution.sm_nights.items():
        run = runs.get(rid)
        if run is None or run.mode != "SM":
            errors.append(f"{rid}: SM nights given but it is not an SM run")
            continue
        for night, hours in per_night.items():
            if not 0 <= night < d:
                errors.append(f"{rid}: SM hours on night {night}, outside the period")
                continue
            day = problem.dates[night].isoformat()
            halves = free[run.telescope][night]
            share = min(run.visible_hours[night], problem.dark_hours[night]) / 2 * halves
            if night in unavailable[run.telescope]:
                errors.append(f"{rid}: SM hours on {day}, technical or closed")
            elif problem.moon_fli[night] > run.max_fli + _EPS:
                errors.append(f"{rid}: SM hours on {day}, moon FLI above {run.max_fli}")
            elif not bool(mounted[run.telescope][run.instrument][night]):
                errors.append(f"{rid}: SM hours on {day}, {run.instrument} not mounted")
            elif hours > share + _EPS:
                errors.append(
                    f"{rid}: {hours:.2f} h on {day} > {share:.2f} h visible in the free half-nights"
                )
            used[run.telescope][night] += hours
    for tel, hours_per_night in used.items():
        capacity = problem.dark_hours / 2 * free[tel]
        for over in np.flatnonzero(hours_per_night > capacity + _EPS).tolist():
            errors.append(
                f"{tel} {problem.dates[over].isoformat()}: {hours_per_night[over]:.2f} h of SM "
                f"in {capacity[over]:.2f} h of free half-nights"
            )

    reserved: dict[tuple[str, str, float, int], float] = {}
    for res in solution.reservations:
        if res.telescope not in free or not (0 <= res.first <= res.last < d) or res.hours < 0:
            errors.append(f"reservation {res} is outside the period or negative")
            continue
        key = (res.telescope, res.instrument, float(res.max_fli), res.ra_bin)
        reserved[key] = reserved.get(key, 0.0) + res.hours
    for key, hours in served_by_group.items():
        if hours > reserved.get(key, 0.0) + 0.05 + _EPS:
            errors.append(
                f"SM group {key}: {hours:.1f} h served > {reserved.get(key, 0.0):.1f} h reserved"
            )
    return errors


# The objective as the documentation states it (``feasibility``'s weights, spelled out again
# here so that a solver's ``score`` that drifts from them is caught):
_CLASS_WEIGHT = {"A": 2500, "B": 50, "C": 1}


def objective(problem: Problem, solution: Solution) -> int:
    """Weight x tenths of an hour of every VM run (its nights at the period's mean night) and
    every served SM hour, plus one per preferred half-night a VM run covers; a run's weight is
    its class weight x its grade weight (50 for grade 1.0 down to 10 for 5.0)."""

    def weight(run: Run) -> int:
        return _CLASS_WEIGHT[run.rank_class] * int(min(50, max(10, round(10 * (6.0 - run.grade)))))

    mean_night = float(np.mean(problem.dark_hours))
    total = 0
    for rid, start in solution.vm_starts.items():
        run = problem.run(rid)
        total += weight(run) * int(round(run.nights * mean_night * 10))
        length = int(round(2 * run.nights))
        total += sum(problem.dates[s // 2] in run.preferred for s in range(start, start + length))
    for rid, hours in solution.sm_served.items():
        total += weight(problem.run(rid)) * int(round(hours * 10))
    return total
