"""Greedy baseline: runs in rank order, first feasible placement.

Same interface as :func:`scheduling.engine.longterm.cpsat.solve_cpsat`. VM runs (with their
linked runs as one unit, pinned units first) are taken by rank class, then grade, and put on
the first free feasible start, starts covering preferred nights first; then SM runs, in the
same order, take hours from the SM blocks in date order up to their group's visible share and
the block's SM time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from scheduling.engine.longterm.feasibility import (
    HOUR_UNITS,
    SMPlan,
    VMOption,
    check_pins,
    link_satisfied,
    sm_plan,
    units,
    vm_options,
)
from scheduling.engine.longterm.problem import Link, Problem, Run, ScheduleConflict
from scheduling.engine.longterm.solution import (
    Progress,
    ProgressCallback,
    Reservation,
    Solution,
    SolveInfo,
    score,
)

MAX_NODES_PER_UNIT = 20_000


def rank_key(run: Run) -> tuple[str, float, str]:
    return (run.rank_class, run.grade, run.id)


def link_units(problem: Problem) -> list[list[str]]:
    """VM runs grouped by links (connected components), each sorted by rank."""
    parent = {r.id: r.id for r in problem.runs if r.mode == "VM"}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for link in problem.links:
        parent[find(link.first)] = find(link.second)
    comps: dict[str, list[str]] = {}
    for rid in parent:
        comps.setdefault(find(rid), []).append(rid)
    return [sorted(c, key=lambda r: rank_key(problem.run(r))) for c in comps.values()]


def solve_greedy(
    problem: Problem,
    *,
    progress: ProgressCallback | None = None,
    time_limit_s: float | None = None,
    num_workers: int = 1,
    random_seed: int = 0,
) -> Solution:
    """Schedule ``problem`` greedily. The keyword arguments other than ``progress`` exist for
    interface parity with CP-SAT and are ignored. Raises ScheduleConflict on pins that cannot
    be honoured."""
    t0 = time.perf_counter()
    options = vm_options(problem)
    conflicts = check_pins(problem, options)
    if conflicts:
        raise ScheduleConflict(conflicts)
    vm_starts = place_vm(problem, options)
    served, reservations = place_sm(problem, vm_starts)
    sc = score(problem, vm_starts, served)
    wall = time.perf_counter() - t0
    if progress is not None:
        progress(Progress(sc.objective, sc.objective, wall))
    info = SolveInfo(
        solver="greedy",
        status="HEURISTIC",
        objective=sc.objective,
        bound=None,
        wall_s=wall,
        greedy_objective=sc.objective,
        winner="greedy",
    )
    return Solution(vm_starts, served, tuple(reservations), info)


def place_vm(problem: Problem, options: Mapping[str, VMOption]) -> dict[str, int]:
    pinned_runs = {p.run for p in problem.pins}
    units_ = link_units(problem)
    units_.sort(
        key=lambda u: (not (set(u) & pinned_runs), min(rank_key(problem.run(r)) for r in u))
    )
    links_of: dict[str, list[Link]] = {}
    for link in problem.links:
        links_of.setdefault(link.first, []).append(link)
        links_of.setdefault(link.second, []).append(link)
    busy = {t.name: np.zeros(2 * problem.n_nights, dtype=bool) for t in problem.telescopes}
    starts: dict[str, int] = {}
    for unit in units_:
        placed = _place_unit(problem, unit, options, links_of, busy)
        if placed is None:
            if set(unit) & pinned_runs:
                names = [p.describe() for p in problem.pins if p.run in unit]
                links = {lk.describe() for r in unit for lk in links_of.get(r, [])}
                raise ScheduleConflict(
                    [
                        f"{', '.join(names)} cannot be honoured together with "
                        f"{', '.join(sorted(links))}: no placement of the linked runs fits"
                    ]
                )
            continue
        for rid, s in placed.items():
            run = problem.run(rid)
            busy[run.telescope][s : s + run.slots] = True
            starts[rid] = s
    return starts


def _candidates(option: VMOption, busy: np.ndarray) -> list[int]:
    length = option.run.slots
    if len(option.starts) == 0:
        return []
    c = np.concatenate([[0], np.cumsum(busy)])
    free = (c[option.starts + length] - c[option.starts]) == 0
    idx = np.flatnonzero(free)
    order = np.lexsort((option.starts[idx], -option.bonus[idx]))
    return [int(option.starts[i]) for i in idx[order]]


def _place_unit(
    problem: Problem,
    unit: list[str],
    options: Mapping[str, VMOption],
    links_of: dict[str, list[Link]],
    busy: dict[str, np.ndarray],
) -> dict[str, int] | None:
    """Depth-first placement of linked runs, first feasible combination (bounded search)."""
    cands = {r: _candidates(options[r], busy[problem.run(r).telescope]) for r in unit}
    if any(not c for c in cands.values()):
        return None
    if len(unit) == 1:
        return {unit[0]: cands[unit[0]][0]}
    nodes = 0
    chosen: dict[str, int] = {}
    local = {t: b.copy() for t, b in busy.items()}

    def ok(rid: str, s: int) -> bool:
        run = problem.run(rid)
        if local[run.telescope][s : s + run.slots].any():
            return False
        for link in links_of.get(rid, []):
            other = link.second if link.first == rid else link.first
            if other in chosen:
                s1, s2 = (s, chosen[other]) if link.first == rid else (chosen[other], s)
                if not link_satisfied(link, s1, s2):
                    return False
        return True

    def dfs(i: int) -> bool:
        nonlocal nodes
        if i == len(unit):
            return True
        rid = unit[i]
        run = problem.run(rid)
        for s in cands[rid]:
            nodes += 1
            if nodes > MAX_NODES_PER_UNIT:
                return False
            if ok(rid, s):
                chosen[rid] = s
                local[run.telescope][s : s + run.slots] = True
                if dfs(i + 1):
                    return True
                local[run.telescope][s : s + run.slots] = False
                del chosen[rid]
        return False

    return dict(chosen) if dfs(0) else None


def free_halves(problem: Problem, vm_starts: Mapping[str, int]) -> dict[str, np.ndarray]:
    """telescope -> int[D]: half-nights (0..2) neither VM, technical nor closed."""
    out = {}
    for t in problem.telescopes:
        f = np.full(problem.n_nights, 2, dtype=int)
        f[problem.unavailable(t.name)] = 0
        out[t.name] = f
    for rid, s in vm_starts.items():
        run = problem.run(rid)
        for x in range(s, s + run.slots):
            out[run.telescope][x // 2] -= 1
    return out


def place_sm(
    problem: Problem, vm_starts: Mapping[str, int], plan: SMPlan | None = None
) -> tuple[dict[str, float], list[Reservation]]:
    plan = plan if plan is not None else sm_plan(problem)
    free = free_halves(problem, vm_starts)
    free_k = [int(free[b.telescope][b.first : b.last + 1].sum()) for b in plan.blocks]
    block_left = [rate * f for rate, f in zip(plan.total_rate, free_k, strict=True)]
    # (group key: telescope, instrument, max_fli, ra_bin; block index) -> hour units
    taken: dict[tuple[tuple[str, str, float, int], int], int] = {}
    group_left: dict[tuple[tuple[str, str, float, int], int], int] = {}
    served: dict[str, float] = {}
    sm_runs = sorted((r for r in problem.runs if r.mode == "SM"), key=rank_key)
    for run in sm_runs:
        key = (run.telescope, run.instrument, float(run.max_fli), problem.ra_bin(run.ra_deg))
        need = units(run.hours)
        got = 0
        for k in plan.blocks_of.get(run.telescope, []):
            if got >= need:
                break
            gk = (key, k)
            if gk not in group_left:
                group_left[gk] = plan.group_rate.get(gk, 0) * free_k[k]
            a = min(need - got, group_left[gk], block_left[k])
            if a > 0:
                got += a
                group_left[gk] -= a
                block_left[k] -= a
                taken[gk] = taken.get(gk, 0) + a
        if got:
            served[run.id] = got / HOUR_UNITS
    reservations = [
        Reservation(
            telescope=plan.blocks[k].telescope,
            first=plan.blocks[k].first,
            last=plan.blocks[k].last,
            instrument=key[1],
            max_fli=key[2],
            ra_bin=key[3],
            hours=u / HOUR_UNITS,
        )
        for (key, k), u in sorted(taken.items(), key=lambda x: (x[0][1], x[0][0]))
    ]
    return served, reservations
