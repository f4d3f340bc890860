"""Solve a long-term problem with CP-SAT: the public entry point :func:`solve_cpsat`.

The model itself (variables, constraints, objective) is in :mod:`.cpmodel`. This module
splits the problem into independent parts (groups of telescopes tied by links), solves the
one-telescope parts side by side in threads (CP-SAT releases the GIL) and the models of
several telescopes after them, handles telescope pairs tied by a single same-nights link by
cases, and merges the parts' schedules and bounds.

The greedy solution is computed first and given to CP-SAT as a hint; per part, the better of
the two is kept (``SolveInfo.winner``), so CP-SAT never returns a worse schedule than greedy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from scheduling.engine.longterm.cpmodel import Part, Reporter, solve_part
from scheduling.engine.longterm.feasibility import (
    check_pins,
    run_weight,
    units,
    vm_options,
    vm_value,
)
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.engine.longterm.problem import Link, Pin, Problem, ScheduleConflict
from scheduling.engine.longterm.solution import (
    Progress,
    ProgressCallback,
    Reservation,
    Solution,
    SolveInfo,
    score,
)

T = TypeVar("T")

DEFAULT_SUBSOLVERS: tuple[str, ...] = ("max_lp", "lb_tree_search")
"""CP-SAT full-search workers for a part solved alone or a model of several telescopes
(joined by links): one search with the full LP relaxation and one exploring the tree by best
bound prove optimality much sooner than CP-SAT's default mix or two LP searches (measured on
synthetic periods: the 300-run benchmark's hardest telescope in 6-14 s instead of 16-60 s).
The greedy hint gives the first solution."""

SINGLE_TELESCOPE_PARAMETERS: dict[str, object] = {"linearization_level": 2}
"""A one-telescope model running side by side with other parts gets one worker: one search
with the full LP relaxation. Measured on the 300-run benchmark period (3 solver seeds each):
one telescope proved in 5-11 s on one core by this search, against 11-14 s on two cores by
the two-worker portfolio; CP-SAT's default single search was as fast where it proved but
stalled on other telescopes with a bound 20 % too high."""


def solve_cpsat(
    problem: Problem,
    *,
    time_limit_s: float = 60.0,
    num_workers: int = 2,
    random_seed: int = 0,
    progress: ProgressCallback | None = None,
    hint_greedy: bool = True,
    redundant_no_overlap: bool = True,
    max_block_nights: int = 0,
    decompose: bool = True,
    subsolvers: tuple[str, ...] | None = DEFAULT_SUBSOLVERS,
    log: bool = False,
    parameters: Mapping[str, object] | None = None,
) -> Solution:
    """Solve ``problem`` with CP-SAT.

    Telescopes that no link ties together are independent problems (their VM nights and SM
    blocks are their own): with ``decompose`` each group of linked telescopes is solved
    separately. Parts of one telescope (and the cases of a linked pair) run side by side,
    one CP-SAT worker each (:data:`SINGLE_TELESCOPE_PARAMETERS`), each until it is proven
    optimal or the time limit (their share of it by size if models of several telescopes
    follow); those models then run one at a time with ``num_workers`` and ``subsolvers``,
    sharing the time left by size. A lone part gets ``num_workers`` too. The reported bound
    is the sum of the parts' proven bounds.

    Parameters
    ----------
    time_limit_s : float
        Wall-clock limit of the whole solve, seconds (greedy hints and model building
        included; decoding the schedules comes on top, a fraction of a second).
    num_workers : int
        CP-SAT worker threads of a lone part or of a model of several telescopes (parts of
        one telescope running side by side get one each: on a machine of ``num_workers``
        cores they then share those cores).
    random_seed : int
    progress : callable, optional
        Called with a :class:`~.solution.Progress` (whole problem: parts not solved yet count
        with their greedy objective and a trivial bound) on every improving solution and
        every improved bound, from CP-SAT's threads: keep it short and thread-safe.
    hint_greedy : bool
        Hint the greedy solution (and keep it if CP-SAT finds nothing better).
    redundant_no_overlap : bool
        Add the redundant per-telescope NoOverlap of optional intervals.
    max_block_nights : int
        Cap on SM block length (0 = blocks end only where moon class or instruments change).
    decompose : bool
        Solve independent groups of telescopes separately.
    subsolvers : tuple of str or None
        CP-SAT full-search workers to run (``None`` = CP-SAT's default portfolio).
    parameters : dict, optional
        Extra ``SatParameters`` fields.

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
    parts = split(problem) if decompose else [problem]
    sizes = [
        max(1, sum(len(options[r.id].starts) for r in q.runs if r.mode == "VM")) for q in parts
    ]
    order = sorted(range(len(parts)), key=lambda i: sizes[i])
    greedies: list[Solution | None] = []
    for q in parts:
        try:
            greedies.append(solve_greedy(q))
        except ScheduleConflict:
            greedies.append(None)  # greedy's bounded search failed; CP-SAT decides
    board = _Board(
        progress,
        t0,
        [g.info.objective if g is not None else 0 for g in greedies],
        [_trivial_bound(q) for q in parts],
    )
    common = dict(
        random_seed=random_seed,
        hint_greedy=hint_greedy,
        redundant=redundant_no_overlap,
        max_block_nights=max_block_nights,
        log=log,
    )
    joint = dict(common, num_workers=num_workers, subsolvers=subsolvers, parameters=parameters)
    single = dict(
        common,
        num_workers=1,
        subsolvers=None,
        parameters={**SINGLE_TELESCOPE_PARAMETERS, **(parameters or {})},
    )
    deadline = t0 + time_limit_s  # the greedy hints and model building count too

    def by_cases(q: Problem) -> Link | None:
        """The one same-nights link tying ``q``'s telescopes, if it is solved by cases."""
        cross = _cross_links(q)
        ok = decompose and len(cross) == 1 and cross[0].kind == "same_nights"
        return cross[0] if ok else None

    pair_links = [by_cases(q) for q in parts]

    def solve_one(i: int, until: float, alone: bool) -> Part:
        q, reporter = parts[i], board.reporter(i)
        kwargs = joint if alone else single
        link = pair_links[i]
        if link is not None:
            return _solve_linked(q, link, greedies[i], reporter, until, kwargs, single)
        left = max(0.1, until - time.perf_counter())
        return solve_part(q, greedies[i], reporter, time_limit_s=left, **kwargs)

    # One-worker searches (a telescope, the cases of a linked pair) share the cores well:
    # they run side by side, each until it is proven or its deadline, so a part proven early
    # leaves its CPU to the others and no part's time has to be guessed. Multi-worker
    # searches synchronise their workers and slow down badly on oversubscribed cores
    # (measured: a 4-telescope model of the 1,000-run period reached a 1e-5 gap alone in
    # 40 s, 1.2 % side by side in 120 s), so models of several telescopes run afterwards,
    # one at a time, with the time left shared by size.
    light = [i for i in order if len(parts[i].telescopes) == 1 or pair_links[i] is not None]
    heavy = [i for i in order if i not in light]
    results: dict[int, Part] = {}
    if light:
        share = sum(sizes[i] for i in light) / sum(sizes)
        until = t0 + time_limit_s * share if heavy else deadline
        tasks = [partial(solve_one, i, until, len(parts) == 1) for i in light]
        results.update(zip(light, _in_parallel(tasks), strict=True))
    for n, i in enumerate(heavy):
        left = max(0.1, deadline - time.perf_counter())
        until = time.perf_counter() + left * sizes[i] / sum(sizes[j] for j in heavy[n:])
        results[i] = solve_one(i, until, True)
    wall = time.perf_counter() - t0
    vm_starts: dict[str, int] = {}
    served: dict[str, float] = {}
    reservations: list[Reservation] = []
    for i in range(len(parts)):
        r = results[i]
        vm_starts.update(r.solution.vm_starts)
        served.update(r.solution.sm_served)
        reservations += r.solution.reservations
    statuses = {results[i].status for i in results}
    status = (
        "OPTIMAL"
        if statuses == {"OPTIMAL"}
        else ("FEASIBLE" if statuses <= {"OPTIMAL", "FEASIBLE"} else "UNKNOWN")
    )
    bounds = [results[i].bound for i in results]
    winners = [results[i].winner for i in sorted(results)]
    winner = (
        winners[0]
        if len(set(winners)) == 1
        else ", ".join(
            f"{winners.count(w)} {w}" for w in ("cp-sat", "repair", "tie", "greedy") if w in winners
        )
    )
    g_objs = [g.info.objective for g in greedies if g is not None]
    cp_objs = [results[i].cpsat_objective for i in results]
    size = {"parts": len(parts), **_sum_sizes(list(results.values()))}
    info = SolveInfo(
        solver="cp-sat",
        status=status,
        objective=score(problem, vm_starts, served).objective,
        bound=None if any(b is None for b in bounds) else sum(b for b in bounds if b is not None),
        wall_s=wall,
        greedy_objective=sum(g_objs) if len(g_objs) == len(parts) else None,
        winner=winner,
        cpsat_objective=None
        if any(c is None for c in cp_objs)
        else sum(c for c in cp_objs if c is not None),
        model_size=size,
        parts=tuple(
            {
                "telescopes": ",".join(t.name for t in parts[i].telescopes),
                "status": results[i].status,
                "wall_s": round(results[i].wall_s, 2),
                "objective": results[i].objective,
                "bound": results[i].bound,
                "winner": results[i].winner,
                "vm_start_booleans": results[i].size["vm_start_booleans"],
            }
            for i in order
        ),
    )
    if progress is not None:
        final_bound = info.bound if info.bound is not None else sum(board.bounds)
        progress(Progress(info.objective, final_bound, wall))
    return Solution(vm_starts, served, tuple(reservations), info)


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
    groups: dict[str, list[str]] = {}
    for t in problem.telescopes:
        groups.setdefault(find(t.name), []).append(t.name)
    if len(groups) == 1:
        return [problem]
    out = []
    for names in groups.values():
        tels = tuple(t for t in problem.telescopes if t.name in names)
        runs = tuple(r for r in problem.runs if r.telescope in names)
        ids = {r.id for r in runs}
        out.append(
            Problem(
                dates=problem.dates,
                dark_hours=problem.dark_hours,
                moon_fli=problem.moon_fli,
                telescopes=tels,
                runs=runs,
                links=tuple(x for x in problem.links if x.first in ids),
                pins=tuple(x for x in problem.pins if x.run in ids),
                ra_bins=problem.ra_bins,
            )
        )
    return out


def _cross_links(problem: Problem) -> list[Link]:
    return [
        x
        for x in problem.links
        if problem.run(x.first).telescope != problem.run(x.second).telescope
    ]


def _restrict(problem: Problem, telescopes: set[str], pins: tuple[Pin, ...] = ()) -> Problem:
    """The runs, links and pins of ``telescopes`` only (links to other telescopes dropped)."""
    runs = tuple(r for r in problem.runs if r.telescope in telescopes)
    ids = {r.id for r in runs}
    return Problem(
        dates=problem.dates,
        dark_hours=problem.dark_hours,
        moon_fli=problem.moon_fli,
        telescopes=tuple(t for t in problem.telescopes if t.name in telescopes),
        runs=runs,
        links=tuple(x for x in problem.links if x.first in ids and x.second in ids),
        pins=tuple(x for x in problem.pins if x.run in ids) + pins,
        ra_bins=problem.ra_bins,
    )


def _solve_linked(
    problem: Problem,
    link: Link,
    greedy: Solution | None,
    reporter: Reporter,
    deadline: float,
    kwargs: dict[str, Any],
    half_kwargs: dict[str, Any],
) -> Part:
    """Two groups of telescopes tied by one same-nights link, solved apart by cases.

    The linked runs can only start where both fit (their *common* starts). Each side is first
    solved with its linked run limited to the common starts but free to be left out: the link
    dropped, a relaxation whose two proven bounds add up to a bound of the whole. If both
    sides leave the run out, or place it on the same start, that is the answer. If one side
    takes it and the other leaves it out, the two cases are solved apart: *present* (the
    second side forced to take it) and *absent* (the first side forced to leave it out); the
    larger of the two cases' summed bounds bounds the whole, and each case gives a schedule.
    Starts that still differ are repaired by pinning one side where the other put its run.
    Only if no schedule meets the bound does the joint model get the time left, hinted with
    the best one. The cases of one step run side by side with ``half_kwargs`` (one worker);
    the joint model gets ``kwargs``. Measured: one cross-telescope link made the joint model
    unable to prove optimality of the 300-run benchmark period in 60 s, against seconds for
    the cases.
    """
    t0 = time.perf_counter()
    first_tel = problem.run(link.first).telescope
    side_a: set[str] = {first_tel}
    # telescopes reachable from the first run's telescope without the cross link
    changed = True
    while changed:
        changed = False
        for x in problem.links:
            if x is link:
                continue
            ta, tb = problem.run(x.first).telescope, problem.run(x.second).telescope
            if (ta in side_a) != (tb in side_a):
                side_a |= {ta, tb}
                changed = True
    side_b = {t.name for t in problem.telescopes} - side_a
    if not side_b:
        left = max(0.1, deadline - t0)
        return solve_part(problem, greedy, reporter, time_limit_s=left, **kwargs)
    halves = [_restrict(problem, side_a), _restrict(problem, side_b)]
    linked = (link.first, link.second)
    options = vm_options(problem)
    common = frozenset(options[link.first].starts.tolist()) & frozenset(
        options[link.second].starts.tolist()
    )
    greedies = [solve_greedy(h) for h in halves]

    def case(k: int, keep: frozenset[int], present: bool, fraction: float) -> _Case:
        """Side ``k`` with its linked run limited to ``keep`` (and forced in if ``present``)."""
        half, rid = halves[k], linked[k]
        g = greedies[k]
        if rid in g.vm_starts and g.vm_starts[rid] not in keep:
            g = _join(half, [g], drop=_linked_closure(half, {rid}))
        left = max(0.1, deadline - time.perf_counter())
        try:
            part = solve_part(
                half,
                g,
                Reporter(None, 0, 0),
                time_limit_s=left * fraction,
                allowed={rid: keep},
                required=frozenset({rid}) if present else frozenset(),
                **half_kwargs,
            )
        except ScheduleConflict as e:
            infeasible = "infeasible" in str(e)
            return _Case(None, float("-inf") if infeasible else None)
        return _Case(part, part.bound)

    # the cases of one step are independent: they run side by side, each with a share of
    # the time left (they share the CPU) and the next steps keep the rest
    relaxed = _in_parallel([partial(case, k, common, False, 0.6) for k in range(2)])
    candidates: list[Solution] = []

    def add(parts: list[_Case]) -> None:
        if all(c.part is not None for c in parts):
            sols = [c.part.solution for c in parts if c.part is not None]
            joined = _join(problem, sols)
            starts = [joined.vm_starts.get(r) for r in linked]
            if starts[0] == starts[1]:
                candidates.append(joined)

    bound: float | None = _add_bounds(relaxed)
    if bound is not None and bound > float("-inf"):
        reporter.on_bound(bound)  # a relaxation: already a bound of the pair
    present = [
        c.part is not None and linked[k] in c.part.solution.vm_starts for k, c in enumerate(relaxed)
    ]
    add(relaxed)
    if present[0] != present[1] and all(c.part is not None for c in relaxed):
        p = 0 if present[0] else 1  # the side that took its linked run
        q = 1 - p
        forced_out, forced_in = _in_parallel(
            [partial(case, p, frozenset(), False, 0.6), partial(case, q, common, True, 0.6)]
        )
        pair_in = [relaxed[p], forced_in] if p == 0 else [forced_in, relaxed[p]]
        pair_out = [forced_out, relaxed[q]] if p == 0 else [relaxed[q], forced_out]
        add(pair_in)
        add(pair_out)
        b_in, b_out = _add_bounds(pair_in), _add_bounds(pair_out)
        bound = None if b_in is None or b_out is None else max(b_in, b_out)
        repair_from = pair_in
    else:
        repair_from = relaxed
    starts = [
        c.part.solution.vm_starts.get(linked[k]) if c.part is not None else None
        for k, c in enumerate(repair_from)
    ]
    start0, start1 = starts
    if start0 is not None and start1 is not None and start0 != start1:
        # pin side k where the other side put its run
        other = (start1, start0)
        redone = _in_parallel(
            [partial(case, k, frozenset({other[k]}), True, 0.4) for k in range(2)]
        )
        for k, redo in enumerate(redone):
            pair = [redo, repair_from[1]] if k == 0 else [repair_from[0], redo]
            add(pair)
    # always possible: leave out the linked runs (and whatever is linked to them)
    solved = [c.part.solution for c in relaxed if c.part is not None]
    if len(solved) == 2:
        dropped = _linked_closure(problem, set(linked))
        candidates.append(_join(problem, solved, drop=dropped))
    if greedy is not None:
        candidates.append(greedy)
    if not candidates:
        left = max(0.1, deadline - time.perf_counter())
        return solve_part(problem, greedy, reporter, time_limit_s=left, **kwargs)
    best = max(candidates, key=lambda c: c.info.objective)
    best_obj = best.info.objective
    reporter.on_objective(best_obj)
    size = _sum_sizes([c.part for c in relaxed if c.part is not None])
    if bound is not None and bound == float("-inf"):
        bound = None  # a side has no schedule at all: let the joint model decide
    if bound is not None and best_obj >= bound:
        reporter.on_bound(best_obj)
        winner = "greedy" if best is greedy else "cp-sat"
        wall = time.perf_counter() - t0
        return Part(best, wall, "OPTIMAL", best_obj, best_obj, winner, best_obj, size)
    # not proven: give the joint model the rest of the time, hinted with the best candidate
    left = max(0.1, deadline - time.perf_counter())
    joint = solve_part(problem, best, reporter, time_limit_s=left, **kwargs)
    if joint.winner in ("greedy", "tie") and best is not greedy:
        joint.winner = "repair" if joint.winner == "greedy" else "tie"
    if bound is not None and (joint.bound is None or bound < joint.bound):
        joint.bound = int(bound)
        if joint.objective >= bound:
            joint.status = "OPTIMAL"
    joint.wall_s = time.perf_counter() - t0
    return joint


def _sum_sizes(parts: list[Part]) -> dict[str, int]:
    """Model sizes of several solves, added up key by key."""
    size: dict[str, int] = {}
    for p in parts:
        for key, value in p.size.items():
            size[key] = size.get(key, 0) + value
    return size


@dataclass
class _Case:
    """One side of a linked pair solved under a restriction; ``bound`` -inf if infeasible,
    None if unknown."""

    part: Part | None
    bound: float | None


def _add_bounds(cases: list[_Case]) -> float | None:
    if any(c.bound is None for c in cases):
        return None
    return sum(c.bound for c in cases if c.bound is not None)


def _linked_closure(problem: Problem, runs: set[str]) -> set[str]:
    out = set(runs)
    changed = True
    while changed:
        changed = False
        for x in problem.links:
            if (x.first in out) != (x.second in out):
                out |= {x.first, x.second}
                changed = True
    return out


def _join(problem: Problem, solutions: list[Solution], drop: Set[str] = frozenset()) -> Solution:
    """Union of the schedules of disjoint telescopes, without the VM runs in ``drop`` (leaving
    a VM run out only frees half-nights, so SM reservations stay valid)."""
    vm: dict[str, int] = {}
    sm: dict[str, float] = {}
    res: list[Reservation] = []
    for x in solutions:
        vm.update({r: s for r, s in x.vm_starts.items() if r not in drop})
        sm.update(x.sm_served)
        res += x.reservations
    obj = score(problem, vm, sm).objective
    return Solution(vm, sm, tuple(res), SolveInfo("cp-sat", "FEASIBLE", obj, None, 0.0))


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
    whole problem (parts not solved yet count with their greedy objective and a trivial
    bound)."""

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


def _in_parallel(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Results of ``tasks`` run in threads (CP-SAT releases the GIL while it searches); the
    first exception is raised once all have finished."""
    if len(tasks) == 1:
        return [tasks[0]()]
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(task) for task in tasks]
        return [f.result() for f in futures]
