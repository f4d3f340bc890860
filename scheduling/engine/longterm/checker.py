"""Independent verification of a long-term schedule.

:func:`check_solution` re-derives every hard constraint from the problem's raw arrays, with
its own code (it imports nothing from the solvers nor from :mod:`.feasibility`), and returns
the list of violations: empty means valid. The tests and the benchmark run it on every
solution.

Checked: VM runs exist, start on a legal slot and fit in the period; each night they use is
neither technical nor closed, has their instrument mounted, a moon FLI within their limit,
is not one of their impossible dates and has enough target visibility; no two runs share a
telescope half-night; links (both-or-neither, same nights, day distances) and pins; SM served
hours within requests and covered by reservations; reservations in blocks that do not
partially overlap, on nights where their moon limit and instrument fit, each group within its
visible share of the block's SM half-nights and every block within its SM half-nights; the
claimed objective equals the recomputed one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scheduling.engine.longterm.problem import Problem, Run
from scheduling.engine.longterm.solution import Solution, score

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
        actual = score(problem, solution.vm_starts, solution.sm_served).objective
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
    errors: list[str] = []
    d = problem.n_nights
    width = 360.0 / problem.ra_bins

    def ra_bin(ra: float) -> int:
        return int((ra % 360.0) // width) % problem.ra_bins

    for rid, hours in solution.sm_served.items():
        run = runs.get(rid)
        if run is None or run.mode != "SM":
            errors.append(f"{rid}: SM hours served but it is not an SM run")
        elif hours < -_EPS or hours > run.hours + 0.05 + _EPS:
            errors.append(f"{rid}: served {hours:.2f} h of {run.hours:.2f} h requested")

    # SM half-nights still free per telescope and night (0, 1 or 2)
    free: dict[str, np.ndarray] = {}
    for t in problem.telescopes:
        f = np.full(d, 2.0)
        for night in unavailable[t.name]:
            f[night] = 0.0
        free[t.name] = f
    for tel, s in busy:
        free[tel][s // 2] -= 1.0

    blocks: dict[str, list[tuple[int, int]]] = {}
    per_block: dict[tuple[str, int, int], float] = {}
    per_group: dict[tuple[str, str, float, int], float] = {}
    for res in solution.reservations:
        if res.telescope not in free:
            errors.append(f"reservation on unknown telescope {res.telescope}")
            continue
        if not (0 <= res.first <= res.last < d):
            errors.append(f"reservation {res} outside the period")
            continue
        if res.hours < -_EPS:
            errors.append(f"reservation {res} is negative")
        span = (res.first, res.last)
        known = blocks.setdefault(res.telescope, [])
        if span not in known:
            for a, b in known:
                if not (b < res.first or res.last < a):
                    errors.append(
                        f"{res.telescope}: reservation blocks {a}..{b} and "
                        f"{res.first}..{res.last} overlap"
                    )
            known.append(span)
        key = (res.telescope, res.first, res.last)
        per_block[key] = per_block.get(key, 0.0) + res.hours
        gkey = (res.telescope, res.instrument, float(res.max_fli), res.ra_bin)
        per_group[gkey] = per_group.get(gkey, 0.0) + res.hours
        members = [
            r
            for r in problem.runs
            if r.mode == "SM"
            and (r.telescope, r.instrument, float(r.max_fli), ra_bin(r.ra_deg)) == gkey
        ]
        if not members:
            errors.append(f"reservation {res} has no SM run")
            continue
        nights = np.arange(res.first, res.last + 1)
        avail = np.array([n not in unavailable[res.telescope] for n in nights])
        if not avail.any():
            errors.append(f"reservation {res} on nights that are all technical or closed")
            continue
        dark = problem.dark_hours[nights]
        weights = np.array([r.hours for r in members])
        vis = np.array(
            [np.clip(r.visible_hours[nights] / np.maximum(dark, 1e-9), 0, 1) for r in members]
        )
        frac = (weights[:, None] * vis).sum(axis=0) / weights.sum()
        ok = (problem.moon_fli[nights] <= res.max_fli + _EPS) & np.asarray(
            mounted[res.telescope][res.instrument], dtype=bool
        )[nights]
        free_halves = float(free[res.telescope][nights].sum())
        # capacity per block: mean hours per half-night over its available nights x free halves
        rate = float((ok * frac * dark / 2)[avail].mean())
        cap = rate * free_halves
        if res.hours > cap + 0.05 * free_halves + _EPS:
            errors.append(
                f"reservation {res.telescope} {res.instrument} FLI<={res.max_fli} RA bin "
                f"{res.ra_bin} nights {res.first}..{res.last}: {res.hours:.1f} h > "
                f"{cap:.1f} h of visible SM time"
            )
        if not ok[avail].all() and ok[avail].any():
            errors.append(f"reservation {res}: moon or instrument fit only part of its block")
    for (tel, first, last), hours in per_block.items():
        nights = np.arange(first, last + 1)
        avail = np.array([n not in unavailable[tel] for n in nights])
        free_halves = float(free[tel][nights].sum())
        cap = float((problem.dark_hours[nights] / 2)[avail].mean()) * free_halves
        if hours > cap + 0.05 * free_halves + _EPS:
            errors.append(
                f"{tel} nights {first}..{last}: {hours:.1f} h reserved > {cap:.1f} h of SM time"
            )
    served_by_group: dict[tuple[str, str, float, int], float] = {}
    for rid, hours in solution.sm_served.items():
        run = runs.get(rid)
        if run is None or run.mode != "SM":
            continue
        gkey = (run.telescope, run.instrument, float(run.max_fli), ra_bin(run.ra_deg))
        served_by_group[gkey] = served_by_group.get(gkey, 0.0) + hours
    for gkey, hours in served_by_group.items():
        if hours > per_group.get(gkey, 0.0) + 0.05 + _EPS:
            errors.append(
                f"SM group {gkey}: {hours:.1f} h served > {per_group.get(gkey, 0.0):.1f} h reserved"
            )
    return errors
