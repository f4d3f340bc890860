"""Reviewer assignment, the greedy baseline: papers in order, each takes the least-loaded
unconflicted reviewers."""

from __future__ import annotations

import time
from collections import Counter, defaultdict

from proposals.review.optimiser.problem import (
    AssignmentProblem,
    AssignmentResult,
    Reviewer,
    assemble_result,
    overlap,
    uncoverable,
    usable_fixed,
    validate,
)


def greedy_assignment(problem: AssignmentProblem) -> AssignmentResult:
    """The baseline: papers in order, each takes the least-loaded unconflicted reviewers
    (ties by expertise, then input order); primaries by overlap, ties by fewest primaries."""
    t0 = time.perf_counter()
    validate(problem)
    notes: list[str] = []
    uncovered = set(uncoverable(problem))
    fixed = usable_fixed(problem, uncovered, notes)
    fixed_of: dict[int, list[Reviewer]] = defaultdict(list)
    by_id = {r.id: r for r in problem.reviewers}
    for pid, rid in sorted(fixed):
        fixed_of[pid].append(by_id[rid])
    load = Counter(rid for _, rid in fixed)  # hand moves are there before the loop
    chosen: dict[int, list[int]] = {}
    primary: set[tuple[int, int]] = set()
    primaries_of: Counter[int] = Counter()
    for p in problem.papers:
        if p.id in uncovered:
            continue
        mine = list(fixed_of[p.id])
        taken = {r.id for r in mine}
        candidates = [
            r
            for r in problem.reviewers
            if r.id not in taken
            and (p.id, r.id) not in problem.conflicts
            and (r.capacity is None or load[r.id] < r.capacity)
        ]
        candidates.sort(key=lambda r: (load[r.id], -overlap(p, r)))  # stable: input order
        mine += candidates[: p.needs - len(mine)]
        if len(mine) < p.needs:  # capacities ran out
            uncovered.add(p.id)
            for r in fixed_of[p.id]:
                load[r.id] -= 1
            continue
        for r in mine[len(fixed_of[p.id]) :]:
            load[r.id] += 1
        chosen[p.id] = [r.id for r in mine]
        order = sorted(mine, key=lambda r: (-overlap(p, r), primaries_of[r.id]))
        for r in order[: min(problem.primaries, p.needs)]:
            primary.add((p.id, r.id))
            primaries_of[r.id] += 1
    return assemble_result(problem, chosen, primary, uncovered, "feasible", t0, notes=notes)
