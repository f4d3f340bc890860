"""Reviewer assignment, the problem (a pure core: no Django, no database): papers,
reviewers, conflicts and fixed pairs; the result; the load band and its feasibility, shared
by the optimiser (:mod:`.solve`), the greedy baseline (:mod:`.greedy`) and the checker
(:mod:`.checker`)."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

# ortools.graph has no py.typed marker (ortools.sat has one): see pyproject's mypy overrides.
from ortools.graph.python.max_flow import SimpleMaxFlow

PRIMARY, SECONDARY = "primary", "secondary"

TIE_RANGE = 1 << 16
"""Tie-break weights are in ``0..TIE_RANGE-1``: wide enough that two assignments of equal
expertise rarely tie, so the optimum is unique and the same whatever the solver (the flow or
CP-SAT, with any number of workers) or the input order."""


@dataclass(frozen=True)
class Reviewer:
    id: int  # opaque id (user pk)
    capacity: int | None = None  # max assignments (None: no hard cap beyond balance)
    expertise: frozenset[str] = frozenset()  # keywords, lower case


@dataclass(frozen=True)
class Paper:
    """A proposal to review."""

    id: int
    keywords: frozenset[str] = frozenset()
    needs: int = 3  # reviewers required


@dataclass(frozen=True)
class AssignmentProblem:
    papers: tuple[Paper, ...]
    reviewers: tuple[Reviewer, ...]
    conflicts: frozenset[tuple[int, int]]  # (paper id, reviewer id) pairs never assigned
    primaries: int = 1  # of each paper's reviewers, how many are primary (the rest secondary)
    fixed: frozenset[tuple[int, int]] = frozenset()  # pairs that must stay (hand moves)


@dataclass(frozen=True)
class AssignmentResult:
    pairs: tuple[tuple[int, int, str], ...]  # (paper id, reviewer id, role), sorted
    uncovered: tuple[int, ...]  # paper ids left without reviewers
    loads: dict[int, int]  # reviewer id -> number of papers (every reviewer)
    expertise_score: int  # sum over pairs of |paper.keywords & reviewer.expertise|
    status: str  # "optimal" | "feasible" | "infeasible"
    seconds: float
    widened: int = 0  # load band widened by this many on each side (0: floor..ceil held)
    primary_widened: int = 0  # the same for primaries per reviewer
    notes: tuple[str, ...] = field(default=())  # human-readable: widening, dropped pairs


# ---------------------------------------------------------------------------- helpers


def overlap(paper: Paper, reviewer: Reviewer) -> int:
    """Expertise match of one pair: the number of shared keywords."""
    return len(paper.keywords & reviewer.expertise)


def _tie(seed: int, salt: int, paper_id: int, reviewer_id: int) -> int:
    # splitmix64 of the ids, not of their positions: a re-solve after one paper was added
    # or one conflict declared keeps the other pairs' tie-breaks.
    mask = (1 << 64) - 1
    x = (
        seed * 0x9E3779B97F4A7C15 + salt * 0x632BE59BD9B4E019
        ^ paper_id * 0xBF58476D1CE4E5B9
        ^ reviewer_id * 0x94D049BB133111EB
    ) & mask
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & mask
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & mask
    x ^= x >> 31
    return x % TIE_RANGE


def validate(problem: AssignmentProblem) -> None:
    paper_ids = [p.id for p in problem.papers]
    reviewer_ids = [r.id for r in problem.reviewers]
    if len(set(paper_ids)) != len(paper_ids):
        raise ValueError("duplicate paper ids")
    if len(set(reviewer_ids)) != len(reviewer_ids):
        raise ValueError("duplicate reviewer ids")
    if problem.primaries < 0:
        raise ValueError("primaries must be >= 0")
    for p in problem.papers:
        if p.needs < 0:
            raise ValueError(f"paper {p.id}: needs must be >= 0")
    for r in problem.reviewers:
        if r.capacity is not None and r.capacity < 0:
            raise ValueError(f"reviewer {r.id}: capacity must be >= 0")
    known_p, known_r = set(paper_ids), set(reviewer_ids)
    for pid, rid in problem.fixed:
        if pid not in known_p or rid not in known_r:
            raise ValueError(f"fixed pair ({pid}, {rid}) names an unknown paper or reviewer")
    per_paper = Counter(pid for pid, _ in problem.fixed)
    needs = {p.id: p.needs for p in problem.papers}
    for pid, n in sorted(per_paper.items()):
        if n > needs[pid]:
            raise ValueError(f"paper {pid}: {n} fixed reviewers but needs {needs[pid]}")


def _able(reviewer: Reviewer) -> bool:
    return reviewer.capacity is None or reviewer.capacity > 0


def uncoverable(problem: AssignmentProblem) -> tuple[int, ...]:
    """Papers with fewer unconflicted reviewers (of capacity > 0) than they need, by id."""
    able = [r.id for r in problem.reviewers if _able(r)]
    return tuple(
        p.id
        for p in problem.papers
        if sum((p.id, rid) not in problem.conflicts for rid in able) < p.needs
    )


def level(total: int, caps: Sequence[int | None]) -> Fraction | None:
    """The balanced load respecting capacities ("water filling"): the L with
    sum_j min(cap_j, L) = total, i.e. the plain mean total / n when no capacity is below it;
    None if the capacities cannot hold the total."""
    finite = sorted(cap for cap in caps if cap is not None)
    left, k = total, len(caps)
    for cap in finite:
        if k == 0 or cap * k >= left:
            break
        left, k = left - cap, k - 1  # this reviewer is full below the level
    if k == 0:
        return None if left > 0 else Fraction(0)
    return Fraction(left, k)


def _band(total: int, caps: Sequence[int | None], w: int) -> tuple[list[int], list[int]]:
    """Per-reviewer load bounds: floor(L)-w .. ceil(L)+w around the level L, clipped to 0 and
    capacity (the caller checks that the level exists)."""
    mean = level(total, caps) or Fraction(0)
    lo0, hi0 = math.floor(mean), math.ceil(mean)
    lo, hi = [], []
    for cap in caps:
        h = hi0 + w if cap is None else min(hi0 + w, cap)
        lo.append(min(max(lo0 - w, 0), h))
        hi.append(h)
    return lo, hi


def _feasible(
    demand: Sequence[int],
    allowed: Sequence[Sequence[int]],
    forced: set[tuple[int, int]],
    lo: Sequence[int],
    hi: Sequence[int],
) -> bool:
    """Whether each item i can take exactly demand[i] of its allowed columns, the forced
    (item, column) pairs included, with every column's degree in lo..hi.

    A max-flow with lower bounds (the textbook circulation reduction): source -> item with
    lower = upper = demand, item -> column with capacity 1 (lower 1 if forced), column -> sink
    with lo..hi, sink -> source unbounded; feasible iff the auxiliary flow saturates.
    """
    n_items, n_cols = len(demand), len(lo)
    s, t = 0, 1
    item0, col0 = 2, 2 + n_items
    s2, t2 = col0 + n_cols, col0 + n_cols + 1
    excess = [0] * (t2 + 1)
    flow = SimpleMaxFlow()

    def arc(a: int, b: int, low: int, up: int) -> None:
        if up > low:
            flow.add_arc_with_capacity(a, b, up - low)
        excess[b] += low
        excess[a] -= low

    for i, d in enumerate(demand):
        arc(s, item0 + i, d, d)
        for j in allowed[i]:
            arc(item0 + i, col0 + j, 1 if (i, j) in forced else 0, 1)
    for j in range(n_cols):
        arc(col0 + j, t, lo[j], hi[j])
    arc(t, s, 0, sum(demand) + 1)
    need = 0
    for v, e in enumerate(excess[:s2]):
        if e > 0:
            flow.add_arc_with_capacity(s2, v, e)
            need += e
        elif e < 0:
            flow.add_arc_with_capacity(v, t2, -e)
    if need == 0:
        return True
    status = flow.solve(s2, t2)
    return bool(status == SimpleMaxFlow.OPTIMAL and flow.optimal_flow() == need)


def usable_fixed(
    problem: AssignmentProblem, skip: set[int], notes: list[str]
) -> set[tuple[int, int]]:
    """The fixed pairs that can stay: a conflict declared after a hand move wins over it."""
    capacity = {r.id: r.capacity for r in problem.reviewers}
    kept = set()
    for pid, rid in sorted(problem.fixed):
        if (pid, rid) in problem.conflicts:
            notes.append(f"fixed pair (paper {pid}, reviewer {rid}) dropped: a conflict")
        elif capacity[rid] == 0:
            notes.append(f"fixed pair (paper {pid}, reviewer {rid}) dropped: capacity 0")
        elif pid not in skip:
            kept.add((pid, rid))
    return kept


def assemble_result(
    problem: AssignmentProblem,
    chosen: dict[int, list[int]],
    primary: set[tuple[int, int]],
    uncovered: set[int],
    status: str,
    t0: float,
    widened: int = 0,
    primary_widened: int = 0,
    notes: Sequence[str] = (),
) -> AssignmentResult:
    papers = {p.id: p for p in problem.papers}
    reviewers = {r.id: r for r in problem.reviewers}
    pairs = sorted(
        (pid, rid, PRIMARY if (pid, rid) in primary else SECONDARY)
        for pid, rids in chosen.items()
        for rid in rids
    )
    loads = Counter(rid for _, rid, _ in pairs)
    return AssignmentResult(
        pairs=tuple(pairs),
        uncovered=tuple(p.id for p in problem.papers if p.id in uncovered),
        loads={r.id: loads[r.id] for r in problem.reviewers},
        expertise_score=sum(overlap(papers[pid], reviewers[rid]) for pid, rid, _ in pairs),
        status=status,
        seconds=time.perf_counter() - t0,
        widened=widened,
        primary_widened=primary_widened,
        notes=tuple(notes),
    )
