"""Solve a long-term problem with CP-SAT: the public entry point :func:`solve_cpsat`.

The model itself (variables, constraints, objective) is in :mod:`.cpmodel`. This module
splits the problem into independent parts (groups of telescopes tied by links), solves them
one after the other within the time limit, handles telescope pairs tied by a single
same-nights link by relaxation and repair, and merges the parts' schedules and bounds.

The greedy solution is computed first and given to CP-SAT as a hint; per part, the better of
the two is kept (``SolveInfo.winner``), so CP-SAT never returns a worse schedule than greedy.
"""

from __future__ import annotations

import time

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

DEFAULT_SUBSOLVERS: tuple[str, ...] = ("default_lp", "max_lp")
"""With two workers, two LP-based full searches prove optimality much sooner than CP-SAT's
default mix (one LP search plus local-search / LNS helpers), measured on synthetic periods;
the greedy hint already gives them a good first solution."""


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
    parameters: dict | None = None,
) -> Solution:
    """Solve ``problem`` with CP-SAT.

    Telescopes that no link ties together are independent problems (their VM nights and SM
    blocks are their own): with ``decompose`` each group of linked telescopes is solved
    separately, smallest first, each with a share of the remaining time proportional to its
    number of start booleans; the reported bound is the sum of the parts' proven bounds.

    Parameters
    ----------
    time_limit_s : float
        Wall-clock limit of the CP-SAT searches together, seconds (model building and the
        greedy hint come on top).
    num_workers : int
        CP-SAT worker threads.
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
    pending_obj = [g.info.objective if g is not None else 0 for g in greedies]
    pending_bound = [_trivial_bound(q) for q in parts]
    results: dict[int, Part] = {}
    deadline = time.perf_counter() + time_limit_s
    for n, i in enumerate(order):
        left = max(0.1, deadline - time.perf_counter())
        share = left * sizes[i] / sum(sizes[j] for j in order[n:])
        done_obj = sum(results[j].objective for j in results)
        done_bound = sum(
            results[j].bound if results[j].bound is not None else pending_bound[j] for j in results
        )
        rest = [j for j in order[n + 1 :]]
        offset_obj = done_obj + sum(pending_obj[j] for j in rest)
        offset_bound = done_bound + sum(pending_bound[j] for j in rest)
        reporter = Reporter(
            progress, t0, offset_obj, offset_bound, pending_obj[i], pending_bound[i]
        )
        kwargs = dict(
            num_workers=num_workers,
            random_seed=random_seed,
            hint_greedy=hint_greedy,
            redundant=redundant_no_overlap,
            max_block_nights=max_block_nights,
            subsolvers=subsolvers,
            log=log,
            parameters=parameters,
        )
        cross = _cross_links(parts[i])
        if decompose and len(cross) == 1 and cross[0].kind == "same_nights":
            results[i] = _solve_linked(parts[i], cross[0], greedies[i], reporter, share, kwargs)
        else:
            results[i] = solve_part(parts[i], greedies[i], reporter, time_limit_s=share, **kwargs)
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
    size: dict[str, int] = {"parts": len(parts)}
    for i in results:
        for key, value in results[i].size.items():
            size[key] = size.get(key, 0) + value
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
        final_bound = info.bound if info.bound is not None else sum(pending_bound)
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
    time_limit_s: float,
    kwargs: dict,
) -> Part:
    """Two groups of telescopes tied by one same-nights link, solved apart.

    Dropping the link relaxes the problem, so the two halves' proven bounds add up to a bound
    of the whole. If their schedules happen to honour the link, that is the answer; otherwise
    each side in turn is re-solved with its linked run pinned where the other side put its
    partner, the better repair is kept, and any time left goes to the joint model hinted with
    it. Measured: one cross-telescope link made the joint model several times slower to prove
    than its two halves together.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
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
        return solve_part(problem, greedy, reporter, time_limit_s=time_limit_s, **kwargs)
    halves = [_restrict(problem, side_a), _restrict(problem, side_b)]
    quiet = Reporter(None, t0, 0, 0, 0, 0)
    sizes = [max(1, len(h.runs)) for h in halves]
    solved = []
    for k, half in enumerate(halves):
        share = max(0.1, deadline - time.perf_counter()) * sizes[k] / sum(sizes[k:])
        solved.append(solve_part(half, solve_greedy(half), quiet, time_limit_s=share / 2, **kwargs))
    bound = None
    if solved[0].bound is not None and solved[1].bound is not None:
        bound = solved[0].bound + solved[1].bound
    a_start = solved[0].solution.vm_starts.get(link.first)
    b_start = solved[1].solution.vm_starts.get(link.second)
    candidates: list[tuple[int, Solution, str]] = []
    if (a_start is None and b_start is None) or a_start == b_start:
        joined = _join(problem, [p.solution for p in solved])
        candidates.append((joined.info.objective, joined, _worst(solved)))
    else:
        for k, (rid, start) in enumerate(((link.second, a_start), (link.first, b_start))):
            if start is None:
                continue
            other = 1 - k  # re-solve the side of ``rid`` with it pinned at ``start``
            pin = Pin(rid, problem.dates[start // 2], second_half=bool(start % 2))
            tels = side_b if other == 1 else side_a
            try:
                pinned = _restrict(problem, tels, (pin,))
                if check_pins(pinned, vm_options(pinned)):
                    continue
                left = max(0.1, deadline - time.perf_counter())
                redo = solve_part(
                    pinned, solve_greedy(pinned), quiet, time_limit_s=left / 3, **kwargs
                )
            except ScheduleConflict:
                continue
            parts = [solved[0], redo] if other == 1 else [redo, solved[1]]
            joined = _join(problem, [p.solution for p in parts])
            candidates.append((joined.info.objective, joined, _worst(parts)))
    # always possible: leave out the linked runs (and whatever is linked to them)
    dropped = _linked_closure(problem, {link.first, link.second})
    joined = _join(problem, [p.solution for p in solved], drop=dropped)
    candidates.append((joined.info.objective, joined, "FEASIBLE"))
    if greedy is not None:
        candidates.append((greedy.info.objective, greedy, "FEASIBLE"))
    if not candidates:
        return solve_part(problem, greedy, reporter, time_limit_s=time_limit_s, **kwargs)
    best_obj, best, status = max(candidates, key=lambda c: c[0])
    if bound is not None and best_obj >= bound and status == "OPTIMAL":
        reporter.on_bound(bound)
        size = {k: solved[0].size[k] + solved[1].size[k] for k in solved[0].size}
        winner = "cp-sat" if best is not greedy else "greedy"
        wall = time.perf_counter() - t0
        return Part(best, wall, "OPTIMAL", best_obj, bound, winner, best_obj, size)
    # not proven: give the joint model the rest of the time, hinted with the best repair
    left = max(0.1, deadline - time.perf_counter())
    joint = solve_part(problem, best, reporter, time_limit_s=left, **kwargs)
    if joint.winner in ("greedy", "tie") and best is not greedy:
        joint.winner = "repair" if joint.winner == "greedy" else "tie"
    if bound is not None and (joint.bound is None or bound < joint.bound):
        joint.bound = bound
        if joint.objective >= bound:
            joint.status = "OPTIMAL"
    joint.wall_s = time.perf_counter() - t0
    return joint


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


def _join(problem: Problem, solutions: list[Solution], drop: set[str] = frozenset()) -> Solution:
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


def _worst(parts: list[Part]) -> str:
    return "OPTIMAL" if all(p.status == "OPTIMAL" for p in parts) else "FEASIBLE"


def _trivial_bound(problem: Problem) -> int:
    total = 0
    for r in problem.runs:
        if r.mode == "VM":
            total += vm_value(problem, r) + int(round(2 * r.nights))
        else:
            total += run_weight(r) * units(r.hours)
    return total
