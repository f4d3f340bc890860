"""Greedy baseline: runs in rank order, first feasible placement.

VM runs (with their linked runs as one unit, pinned units first) are taken by rank class,
then grade, and put on the first free feasible start, starts covering preferred nights first.
SM time is then what a queue can deliver around them, night by night (:mod:`.smflow`), after
the same improvement pass as CP-SAT's (:mod:`.improve`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from scheduling.engine.longterm.feasibility import (
    VMOption,
    check_pins,
    link_satisfied,
    vm_options,
)
from scheduling.engine.longterm.improve import finish
from scheduling.engine.longterm.problem import Link, Problem, Run, ScheduleConflict
from scheduling.engine.longterm.solution import (
    Progress,
    ProgressCallback,
    Solution,
    SolveInfo,
)

MAX_NODES_PER_UNIT = 20_000
IMPROVE_S = 2.0
"""Seconds the greedy solver's improvement pass may take."""


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
    improve_s: float = IMPROVE_S,
) -> Solution:
    """Schedule ``problem`` greedily, then :func:`.improve.finish` (fill and swap pass, the SM
    hours delivered around the VM runs). Raises ScheduleConflict on pins that cannot be
    honoured."""
    t0 = time.perf_counter()
    options = vm_options(problem)
    conflicts = check_pins(problem, options)
    if conflicts:
        raise ScheduleConflict(conflicts)
    vm_starts = place_vm(problem, options)
    info = SolveInfo(solver="greedy", status="HEURISTIC", objective=0, bound=None, wall_s=0.0)
    solution = finish(problem, vm_starts, info, budget_s=improve_s)
    wall = time.perf_counter() - t0
    objective = solution.info.objective
    if progress is not None:
        progress(Progress(objective, objective, wall))
    info = replace(solution.info, wall_s=wall, greedy_objective=objective, winner="greedy")
    return replace(solution, info=info)


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
