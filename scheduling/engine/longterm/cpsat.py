"""Solve a long-term problem with CP-SAT: the public entry point :func:`solve_cpsat`.

The model (variables, constraints, objective) is in :mod:`.cpmodel`. Telescopes that no link
ties together are independent problems, and a part whose groups of telescopes a single
same-nights pair ties together may be split there, its leaf solved once per common start of
the pair (:mod:`.decompose`). All are solved side by side: the largest with every worker,
the others with one search each, each until it is proven optimal or the time limit (a leaf's
cases until two thirds of the time left; its center waits for them). The greedy schedule is
computed first and hints each problem. The parts' VM placements are merged and
:func:`.improve.finish` ends the solve (fill and swap pass, SM hours delivered night by
night); the greedy schedule is kept instead if it scores higher (``SolveInfo.winner``), so
CP-SAT never returns less than greedy.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from scheduling.engine.longterm import pool
from scheduling.engine.longterm.cpmodel import Part, Reporter, solve_part
from scheduling.engine.longterm.decompose import split
from scheduling.engine.longterm.feasibility import (
    VMOption,
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
"""CP-SAT's workers for the largest part. With two workers CP-SAT runs only the first as a
full search (with the full LP relaxation) and gives the second worker to its neighbourhood
searches (LNS), which find the good schedules of the 1,000-run periods; the greedy hint
gives the first solution. Measured, not adopted: both as full searches
(``num_full_subsolvers=2``, no LNS) proved the UT2-UT4 model of the 300-run period of
generator seed 3 alone in 40-53 s instead of not in 55 s (but not within the benchmark's
60 s either), and left the oversubscribed year of generator seed 2 (solver seed 2) 7.05 %
from its bound instead of 0.78 %."""

ONE_WORKER: dict[str, object] = {"linearization_level": 2}
"""A part solved beside others gets one search, with the full LP relaxation (measured on the
300-run period: one telescope proven in 5-11 s on one core, against 11-14 s on two cores by
the two-worker portfolio)."""

LEAF_SHARE = 2 / 3
"""A leaf's cases get at most this share of the time left when they start; the job that
waits for them gets the rest (one-telescope cases are usually proven in seconds, their
center in under 10 s). Measured with a half: the 30-s calendar of generator seed 1 left one
UT4 case 175 units short of its bound at 14 s while UT3, its center, then took 8 s of the
15 s left."""

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
    # Every part is one sub-problem, or a leaf's cases and a center, itself planned the same
    # way (see :mod:`.pool`); all sub-problems of all parts form one flat pool.
    jobs, roots = pool.plan(split(problem))
    sub_options = [vm_options(j.problem) for j in jobs]
    hints = [_restrict(greedy, j.problem, o) for j, o in zip(jobs, sub_options, strict=True)]
    trivial = [_trivial_bound(j.problem) for j in jobs]
    initial: list[float] = []
    for j in jobs:  # a job's bound includes its tables' best cases (jobs before it)
        best = sum(max(initial[k] for _, k in t.cases) for t in j.tables)
        initial.append(trivial[len(initial)] + best)
    board = _Board(progress, t0, roots, initial)
    deadline = t0 + time_limit_s - improve_s
    # The largest sub-problem that is not a leaf case (by feasible VM starts: typically
    # telescopes tied by links) gets every worker, the others one search each; all run at
    # once, each until it is proven or the deadline, so one proven early leaves its core to
    # the rest and none waits for a turn or has its share of the time guessed (CP-SAT
    # releases the GIL while it searches).
    # A job waits for the leaf cases of its tables; a leaf case gets at most two thirds of the
    # time left when it starts.
    sizes = [sum(len(o.starts) for o in opts.values()) for opts in sub_options]
    largest = max((i for i, j in enumerate(jobs) if not j.leaf), key=lambda i: sizes[i])

    def solve(i: int, waits: list[Future[Part]]) -> Part:
        full = i == largest
        job, hint = jobs[i], hints[i]
        done = {k: f.result().objective for k, f in zip(job.waits_for(), waits, strict=True)}
        values, offset = pool.values(job, done)
        for run, table in values.items():
            hint = _without(hint, run, set(table))
        now = time.perf_counter()
        end = now + LEAF_SHARE * (deadline - now) if job.leaf else deadline
        return solve_part(
            job.problem,
            hint,
            board.reporter(i),
            time_limit_s=max(0.1, end - now),
            num_workers=num_workers if full else 1,
            random_seed=random_seed,
            subsolvers=SUBSOLVERS if full else (),
            parameters=None if full else ONE_WORKER,
            log=log,
            start_values=values,
            offset=offset,
        )

    with ThreadPoolExecutor(max_workers=len(jobs)) as executor:
        futures: list[Future[Part]] = []
        for i, job in enumerate(jobs):  # every job after those it waits for
            futures.append(executor.submit(solve, i, [futures[k] for k in job.waits_for()]))
        results = [f.result() for f in futures]
    # the best bound CP-SAT reported during the search (or the trivial bound) stands in for
    # a search stopped before its first solution, and tightens the final one of a search
    # stopped early (measured: weaker than the bound it had reported)
    bounds_of = [
        int(b) if p.bound is None else min(p.bound, int(b))
        for p, b in zip(results, board.bounds, strict=True)
    ]
    merged = [_merge(jobs, root, results, bounds_of, trivial, greedy) for root in roots]
    vm_starts = {r: slot for m in merged for r, slot in m.vm_starts.items()}
    statuses = {m.status for m in merged}
    status = (
        "OPTIMAL"
        if statuses == {"OPTIMAL"}
        else ("FEASIBLE" if statuses <= {"OPTIMAL", "FEASIBLE"} else "UNKNOWN")
    )
    bounds = [m.bound for m in merged]
    objectives = [m.objective for m in merged]
    info = SolveInfo(
        solver="cp-sat",
        status=status,
        objective=0,
        bound=sum(bounds),
        wall_s=0.0,
        greedy_objective=greedy.info.objective,
        cpsat_objective=None if None in objectives else sum(_known(o) for o in objectives),
        model_size=_sum_sizes(results),
        parts=tuple(
            _part_info(j.problem, replace(p, bound=b), j.label)
            for j, p, b in zip(jobs, results, bounds_of, strict=True)
        ),
        sm_model_hours=sum(m.sm_hours for m in merged),
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
        bound = final.bound if final.bound is not None else board.total()[1]
        progress(Progress(final.objective, max(bound, final.objective), wall))
    return replace(kept, info=final)


def _known(value: int | None) -> int:
    assert value is not None
    return value


@dataclass(frozen=True)
class _Merged:
    """One part's result: its schedule (the greedy hint's if CP-SAT found none), objective,
    bound and SM hours."""

    vm_starts: dict[str, int]
    objective: int | None
    bound: int
    sm_hours: float
    status: str


def _merge(
    jobs: list[pool.Job],
    root: int,
    results: list[Part],
    bounds: list[int],
    trivial: list[int],
    greedy: Solution,
) -> _Merged:
    """The result of the part solved by job ``root`` (with the jobs it waits for): OPTIMAL
    when every one of them is proven."""
    members = pool.subtree(jobs, root)
    bound = pool.upper_bound(jobs, results, bounds, trivial, root)
    if results[root].vm_starts is None:
        runs = {r.id for j in members for r in jobs[j].problem.runs}
        starts = {r: s for r, s in greedy.vm_starts.items() if r in runs}
        return _Merged(starts, None, bound, 0.0, "UNKNOWN")
    starts, sm_hours = pool.schedule(jobs, results, root)
    proven = all(results[j].status == "OPTIMAL" for j in members)
    status = "OPTIMAL" if proven else "FEASIBLE"
    return _Merged(starts, results[root].objective, bound, sm_hours, status)


def _without(hint: Solution, run: str, allowed: set[int]) -> Solution:
    """``hint`` without ``run``'s start unless it is one of ``allowed``."""
    if hint.vm_starts.get(run, -1) in allowed:
        return hint
    starts = {r: s for r, s in hint.vm_starts.items() if r != run}
    return replace(hint, vm_starts=starts)


def _restrict(solution: Solution, part: Problem, options: dict[str, VMOption]) -> Solution:
    """``solution``'s schedule of the runs of ``part`` (a hint for that part), without the
    VM starts that ``part`` does not allow (a case may pin or leave out a linked pair)."""
    ids = {r.id for r in part.runs}
    return Solution(
        {
            r: s
            for r, s in solution.vm_starts.items()
            if r in ids and s in set(options[r].starts.tolist())
        },
        {r: h for r, h in solution.sm_served.items() if r in ids},
        tuple(x for x in solution.reservations if x.telescope in {t.name for t in part.telescopes}),
        solution.info,
    )


def _part_info(problem: Problem, part: Part, case: str) -> PartInfo:
    return {
        "telescopes": ",".join(t.name for t in problem.telescopes),
        "case": case,
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
    """Best objective and bound of every sub-problem, added up into one progress report for
    the whole problem: per part, its root job's (which counts the cases of its tables; before
    it starts, its objective is zero and its bound trivial plus its tables' best)."""

    def __init__(
        self,
        progress: ProgressCallback | None,
        t0: float,
        roots: list[int],
        bounds: list[float],
    ) -> None:
        self._progress = progress
        self._t0 = t0
        self._last = roots
        self._lock = threading.Lock()
        self.objectives = [0.0] * len(bounds)
        self.bounds = list(bounds)

    def total(self) -> tuple[float, float]:
        """(objective, bound) of the whole problem."""
        return (
            sum(self.objectives[i] for i in self._last),
            sum(self.bounds[i] for i in self._last),
        )

    def reporter(self, i: int) -> Reporter:
        def emit(objective: float, bound: float) -> None:
            with self._lock:
                self.objectives[i] = max(self.objectives[i], objective)
                self.bounds[i] = min(self.bounds[i], bound)
                if self._progress is not None:
                    total = self.total()
                    self._progress(Progress(*total, time.perf_counter() - self._t0))

        return Reporter(emit, self.objectives[i], self.bounds[i])
