"""Solve a long-term problem with CP-SAT: the public entry point :func:`solve_cpsat`.

The model (variables, constraints, objective) is in :mod:`.cpmodel`. Telescopes that no link
ties together are independent problems, solved side by side: the largest with every worker,
the others with one search each, each until it is proven optimal or the time limit. The
greedy schedule is computed first and hints each part. The parts' VM placements are merged
and :func:`.improve.finish` ends the solve (fill and swap pass, SM hours delivered night by
night); the greedy schedule is kept instead if it scores higher (``SolveInfo.winner``), so
CP-SAT never returns less than greedy.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from scheduling.engine.longterm.cpmodel import Part, Reporter, solve_part
from scheduling.engine.longterm.feasibility import (
    check_pins,
    run_weight,
    units,
    vm_options,
    vm_value,
)
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.engine.longterm.improve import finish
from scheduling.engine.longterm.problem import Problem, ScheduleConflict
from scheduling.engine.longterm.solution import (
    PartInfo,
    Progress,
    ProgressCallback,
    Solution,
    SolveInfo,
)

SUBSOLVERS: tuple[str, ...] = ("max_lp", "lb_tree_search")
"""CP-SAT's workers for the largest part: one search with the full LP relaxation
and one exploring the tree by best bound prove optimality much sooner than CP-SAT's default
mix on these models (measured on synthetic periods); the greedy hint gives the first
solution."""

ONE_WORKER: dict[str, object] = {"linearization_level": 2}
"""A part solved beside others gets one search, with the full LP relaxation (measured on the
300-run period: one telescope proven in 5-11 s on one core, against 11-14 s on two cores by
the two-worker portfolio)."""

IMPROVE_SHARE, IMPROVE_MAX_S = 0.05, 10.0
"""The improvement pass gets this share of the time limit, at most this many seconds."""


def solve_cpsat(
    problem: Problem,
    *,
    time_limit_s: float = 60.0,
    num_workers: int = 2,
    random_seed: int = 0,
    progress: ProgressCallback | None = None,
    log: bool = False,
) -> Solution:
    """Solve ``problem`` with CP-SAT within ``time_limit_s`` wall-clock seconds (greedy hint,
    model building, search and the improvement pass included).

    ``progress`` is called with a :class:`~.solution.Progress` of the whole problem (parts not
    solved yet count with their greedy objective and a trivial bound) on every improving
    solution and every improved bound, from CP-SAT's threads: keep it short and thread-safe.
    Objectives and bounds are the model's (SM estimated by blocks) until the final report.

    Raises
    ------
    ScheduleConflict
        Pins and links cannot all be honoured; the message names the culprits.
    """
    t0 = time.perf_counter()
    options = vm_options(problem)
    conflicts = check_pins(problem, options)
    if conflicts:
        raise ScheduleConflict(conflicts)
    improve_s = min(IMPROVE_MAX_S, IMPROVE_SHARE * time_limit_s)
    greedy = solve_greedy(problem, improve_s=improve_s)
    parts = split(problem)
    hints = [_restrict(greedy, q) for q in parts]
    board = _Board(progress, t0, [0] * len(parts), [_trivial_bound(q) for q in parts])
    deadline = t0 + time_limit_s - improve_s
    # The largest part (by feasible VM starts: typically telescopes tied by links) gets every
    # worker, the others one search each; all run at once, each until it is proven or the
    # deadline, so a part proven early leaves its core to the rest and no part waits for a
    # turn or has its share of the time guessed (CP-SAT releases the GIL while it searches).
    sizes = [sum(len(o.starts) for o in vm_options(q).values()) for q in parts]
    largest = max(range(len(parts)), key=lambda i: sizes[i])

    def solve(i: int) -> Part:
        full = i == largest
        return solve_part(
            parts[i],
            hints[i],
            board.reporter(i),
            time_limit_s=max(0.1, deadline - time.perf_counter()),
            num_workers=num_workers if full else 1,
            random_seed=random_seed,
            subsolvers=SUBSOLVERS if full else (),
            parameters=None if full else ONE_WORKER,
            log=log,
        )

    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        results = list(pool.map(solve, range(len(parts))))
    vm_starts: dict[str, int] = {}
    for part, hint in zip(results, hints, strict=True):
        vm_starts.update(part.vm_starts if part.vm_starts is not None else hint.vm_starts)
    statuses = {p.status for p in results}
    status = (
        "OPTIMAL"
        if statuses == {"OPTIMAL"}
        else ("FEASIBLE" if statuses <= {"OPTIMAL", "FEASIBLE"} else "UNKNOWN")
    )
    bounds = [p.bound for p in results]
    objectives = [p.objective for p in results]
    info = SolveInfo(
        solver="cp-sat",
        status=status,
        objective=0,
        bound=None if None in bounds else sum(b for b in bounds if b is not None),
        wall_s=0.0,
        greedy_objective=greedy.info.objective,
        cpsat_objective=None if None in objectives else sum(o for o in objectives if o is not None),
        model_size=_sum_sizes(results),
        parts=tuple(_part_info(q, p) for q, p in zip(parts, results, strict=True)),
        sm_model_hours=sum(p.sm_hours for p in results),
    )
    solution = finish(
        problem, vm_starts, info, budget_s=max(0.0, t0 + time_limit_s - time.perf_counter())
    )
    if greedy.info.objective > solution.info.objective:
        kept, winner = greedy, "greedy"
    else:
        kept = solution
        winner = "tie" if greedy.info.objective == solution.info.objective else "cp-sat"
    wall = time.perf_counter() - t0
    final = replace(
        solution.info,
        objective=kept.info.objective,
        improvement=kept.info.improvement,
        winner=winner,
        wall_s=wall,
    )
    if progress is not None:
        bound = final.bound if final.bound is not None else sum(board.bounds)
        progress(Progress(final.objective, max(bound, final.objective), wall))
    return replace(kept, info=final)


def split(problem: Problem) -> list[Problem]:
    """Independent sub-problems: groups of telescopes tied by links, with their runs."""
    parent = {t.name: t.name for t in problem.telescopes}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for link in problem.links:
        a = find(problem.run(link.first).telescope)
        b = find(problem.run(link.second).telescope)
        parent[a] = b
    groups: dict[str, set[str]] = {}
    for t in problem.telescopes:
        groups.setdefault(find(t.name), set()).add(t.name)
    if len(groups) == 1:
        return [problem]
    return [_telescopes(problem, names) for names in groups.values()]


def _telescopes(problem: Problem, names: set[str]) -> Problem:
    runs = tuple(r for r in problem.runs if r.telescope in names)
    ids = {r.id for r in runs}
    return Problem(
        dates=problem.dates,
        dark_hours=problem.dark_hours,
        moon_fli=problem.moon_fli,
        telescopes=tuple(t for t in problem.telescopes if t.name in names),
        runs=runs,
        links=tuple(x for x in problem.links if x.first in ids),
        pins=tuple(x for x in problem.pins if x.run in ids),
        ra_bins=problem.ra_bins,
    )


def _restrict(solution: Solution, part: Problem) -> Solution:
    """``solution``'s schedule of the runs of ``part`` (a hint for that part)."""
    ids = {r.id for r in part.runs}
    return Solution(
        {r: s for r, s in solution.vm_starts.items() if r in ids},
        {r: h for r, h in solution.sm_served.items() if r in ids},
        tuple(x for x in solution.reservations if x.telescope in {t.name for t in part.telescopes}),
        solution.info,
    )


def _part_info(problem: Problem, part: Part) -> PartInfo:
    return {
        "telescopes": ",".join(t.name for t in problem.telescopes),
        "status": part.status,
        "wall_s": round(part.wall_s, 2),
        "objective": part.objective if part.objective is not None else 0,
        "bound": part.bound,
        "winner": "cp-sat" if part.vm_starts is not None else "greedy",
        "vm_start_booleans": part.size["vm_start_booleans"],
    }


def _sum_sizes(parts: list[Part]) -> dict[str, int]:
    """Model sizes of several solves, added up key by key."""
    size: dict[str, int] = {}
    for p in parts:
        for key, value in p.size.items():
            size[key] = size.get(key, 0) + value
    return size


def _trivial_bound(problem: Problem) -> int:
    total = 0
    for r in problem.runs:
        if r.mode == "VM":
            total += vm_value(problem, r) + int(round(2 * r.nights))
        else:
            total += run_weight(r) * units(r.hours)
    return total


class _Board:
    """Best objective and bound of every part, summed into one progress report for the
    whole problem (parts not solved yet count with a trivial bound)."""

    def __init__(
        self,
        progress: ProgressCallback | None,
        t0: float,
        objectives: list[float],
        bounds: list[float],
    ) -> None:
        self._progress = progress
        self._t0 = t0
        self._lock = threading.Lock()
        self.objectives = list(objectives)
        self.bounds = list(bounds)

    def reporter(self, i: int) -> Reporter:
        def emit(objective: float, bound: float) -> None:
            with self._lock:
                self.objectives[i] = max(self.objectives[i], objective)
                self.bounds[i] = min(self.bounds[i], bound)
                if self._progress is not None:
                    self._progress(
                        Progress(
                            sum(self.objectives),
                            sum(self.bounds),
                            time.perf_counter() - self._t0,
                        )
                    )

        return Reporter(emit, self.objectives[i], self.bounds[i])
