"""Reviewer assignment, the independent checker: any result (the optimiser's, the greedy
baseline's) against its problem, recomputed from the problem itself."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from fractions import Fraction

from proposals.review.optimiser.problem import (
    PRIMARY,
    SECONDARY,
    AssignmentProblem,
    AssignmentResult,
    level,
    overlap,
    uncoverable,
)


def _outside_band(
    counts: dict[int, int], caps: dict[int, int | None], slack: int, what: str
) -> list[str]:
    if not counts:
        return []
    # The plain mean, or where capacities are below it the level that fills the others.
    mean = level(sum(counts.values()), [caps[rid] for rid in counts]) or Fraction(0)
    errors = []
    for rid, got in counts.items():
        low, high = max(math.ceil(mean - slack), 0), math.floor(mean + slack)
        cap = caps[rid]
        if cap is not None:  # a binding capacity excuses a load below the band
            low, high = min(low, cap), min(high, cap)
        if not low <= got <= high:
            errors.append(
                f"reviewer {rid} has {got} {what}, outside {low}..{high} "
                f"(mean {float(mean):.2f} +- {slack})"
            )
    return errors


def check_assignment(problem: AssignmentProblem, result: AssignmentResult) -> list[str]:
    """Independently check a result against its problem; the problems found ([] if valid).

    Coverage (exactly ``needs`` per paper not in ``uncovered``, none for those in it, every
    uncoverable paper reported), no conflict, no duplicate, fixed pairs kept (unless
    conflicted, their reviewer of capacity 0 or their paper uncovered), capacities, loads
    and primaries per reviewer within mean +- (1 + the widening the result reports),
    primaries per paper, and the reported loads and expertise score. Where capacities bind,
    "mean" is the level that balances the other reviewers (:func:`level`), and a reviewer at
    capacity below it is within the band; a reviewer's primaries are capped by their papers
    the same way.
    """
    errors: list[str] = []
    papers = {p.id: p for p in problem.papers}
    reviewers = {r.id: r for r in problem.reviewers}
    seen: set[tuple[int, int]] = set()
    roles: dict[int, list[str]] = defaultdict(list)
    for pid, rid, role in result.pairs:
        if pid not in papers or rid not in reviewers:
            errors.append(f"pair ({pid}, {rid}) names an unknown paper or reviewer")
            continue
        if role not in (PRIMARY, SECONDARY):
            errors.append(f"pair ({pid}, {rid}) has role {role!r}")
        if (pid, rid) in seen:
            errors.append(f"pair ({pid}, {rid}) assigned twice")
            continue
        seen.add((pid, rid))
        if (pid, rid) in problem.conflicts:
            errors.append(f"reviewer {rid} is assigned paper {pid} despite a conflict")
        roles[pid].append(role)
    if list(result.pairs) != sorted(result.pairs):
        errors.append("pairs are not sorted")
    uncovered = set(result.uncovered)
    errors += [f"uncovered paper {pid} is unknown" for pid in sorted(uncovered - set(papers))]
    errors += [
        f"paper {pid} cannot be covered but is not reported uncovered"
        for pid in uncoverable(problem)
        if pid not in uncovered
    ]
    for p in problem.papers:
        got = roles.get(p.id, [])
        if p.id in uncovered:
            if got:
                errors.append(f"paper {p.id} is reported uncovered but has {len(got)} reviewers")
            continue
        if len(got) != p.needs:
            errors.append(f"paper {p.id} has {len(got)} reviewers, needs {p.needs}")
        want = min(problem.primaries, p.needs)
        if got and got.count(PRIMARY) != want:
            errors.append(f"paper {p.id} has {got.count(PRIMARY)} primaries, expected {want}")
    for pid, rid in sorted(problem.fixed):
        excused = (pid, rid) in problem.conflicts or reviewers[rid].capacity == 0
        if not excused and pid not in uncovered and (pid, rid) not in seen:
            errors.append(f"fixed pair (paper {pid}, reviewer {rid}) was not kept")
    load = Counter(rid for _, rid in seen)
    loads = {rid: load[rid] for rid in reviewers}
    if result.loads != loads:
        errors.append("reported loads do not match the pairs")
    caps = {rid: r.capacity for rid, r in reviewers.items()}
    for rid, r in reviewers.items():
        if r.capacity is not None and loads[rid] > r.capacity:
            errors.append(f"reviewer {rid} has {loads[rid]} papers, capacity {r.capacity}")
    errors += _outside_band(loads, caps, 1 + result.widened, "papers")
    primary = Counter(rid for pid, rid, role in result.pairs if role == PRIMARY)
    errors += _outside_band(
        {rid: primary[rid] for rid in reviewers},
        {rid: loads[rid] for rid in reviewers},  # primary only where assigned
        1 + result.primary_widened,
        "primaries",
    )
    score = sum(overlap(papers[pid], reviewers[rid]) for pid, rid in seen)
    if result.expertise_score != score:
        errors.append(f"reported expertise score {result.expertise_score}, recomputed {score}")
    return errors
