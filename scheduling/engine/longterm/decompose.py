"""Independent parts of a long-term problem, and the split of a part at a same-nights pair.

Telescopes that no link ties together are independent problems (:func:`split`); a part whose
two groups of telescopes are tied only by one same-nights pair with few common starts is split
there (:func:`tabulate`): the smaller group (the leaf) is solved once per common start, the
other once with the leaf's values. :mod:`.cpsat` solves them all in one flat pool.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scheduling.engine.longterm.feasibility import VMOption, vm_options
from scheduling.engine.longterm.problem import Link, Pin, Problem, Run


def split(problem: Problem) -> list[Problem]:
    """Independent sub-problems: groups of telescopes tied by links, with their runs.

    A same-nights link whose two runs share no feasible start ties nothing: neither run can
    be scheduled (nor, through their links, their partners), so both get every date
    impossible and the link is dropped."""
    options = vm_options(problem)
    dead = {
        r
        for link in problem.links
        if link.kind == "same_nights" and not _common_starts(options, link)
        for r in (link.first, link.second)
    }
    live = tuple(x for x in problem.links if x.first not in dead or x.second not in dead)
    problem = replace_runs(problem, {r: _never(problem, problem.run(r)) for r in dead}, live)
    groups = _groups(problem, problem.links)
    if len(groups) == 1:
        return [problem]
    return [telescopes(problem, names) for names in groups]


LEAF_CASE_LIMIT = 25
"""A same-nights pair is tabulated only if its leaf is solved at most this many times (its
runs share at most ``LEAF_CASE_LIMIT - 1`` feasible starts)."""

LEAF_MAX_STARTS = 4000
"""... and only if the leaf has at most this many feasible VM starts: a problem solved once per
case must be one CP-SAT proves in seconds. On the benchmark, a telescope of the 183-night
period has 1,700-2,800 (one-telescope cases proven in 1-20 s), one of the 365-night years
5,000-12,000 (not proven in 180 s)."""


@dataclass(frozen=True)
class Tabulated:
    """A part split at a same-nights pair that alone ties a *leaf* group of telescopes to the
    rest (the *center*).

    The leaf depends on the center only through the start of its run of the pair, so it is
    solved once per common start of the pair (its run pinned there) and once without the pair;
    the center is then solved (or tabulated again), its run of the pair restricted to the
    common starts, each start worth the leaf's optimum there (:func:`leaf_values`). The
    center's optimum is the part's, and its schedule with the leaf's schedule for the chosen
    start is the part's schedule."""

    center: Problem
    run: str  # the center's run of the pair
    leaves: tuple[tuple[int | None, Problem], ...]  # its start (None: pair left out), leaf
    label: str


def leaf_values(
    slots: list[int | None], objectives: list[int | None]
) -> tuple[dict[int, int], int]:
    """The center's extra value per start of its run of the pair (the leaf's objective with
    the pair there less the leaf's without the pair) and the constant the center's objective
    adds (the leaf's without the pair), from the leaf's cases (their start slots, ``None``:
    without the pair, and objectives). A case the leaf found no schedule for is left out (a
    start) or counts zero (without the pair: the empty schedule)."""
    out = next((o for slot, o in zip(slots, objectives, strict=True) if slot is None), 0) or 0
    values = {
        slot: o - out
        for slot, o in zip(slots, objectives, strict=True)
        if slot is not None and o is not None
    }
    return values, out


def tabulate(part: Problem) -> Problem | Tabulated:
    """``part`` itself, or split at a same-nights pair (see :class:`Tabulated`).

    A pair qualifies when its link is the only one between its two groups of telescopes,
    its runs have no other link, the part has no pin (so that every leaf case is feasible),
    the leaf is solved at most :data:`LEAF_CASE_LIMIT` times and is small
    (:data:`LEAF_MAX_STARTS`). The leaf is the group with fewer runs; of several qualifying
    pairs the cheapest is taken (leaf solves times the leaf's runs). The center may be
    tabulated again (a chain of telescopes, link by link).

    Measured on the 300-run period of generator seed 3 (UT2 tied to UT3 by a pair with 21
    common starts and to UT4 by one with 9): the joint three-telescope model was proven in
    37-75 s (six runs, two workers); UT4 tabulated (10 one-telescope cases, 4-14 s each) with
    UT2+UT3 solved once, in 23-46 s, once not in 56 s (that two-telescope model alone: 8-42 s);
    UT2's cases cost 1-2 s each, UT3's 6-21 s: the group with fewer runs (UT2 70, UT3 83), not
    the one with fewer feasible starts (UT2 2,816, UT3 2,563), is the cheaper leaf.
    """
    if part.pins:
        return part
    options = vm_options(part)
    degree: dict[str, int] = {}
    for link in part.links:
        for r in (link.first, link.second):
            degree[r] = degree.get(r, 0) + 1
    best: tuple[int, Tabulated] | None = None
    for link in part.links:
        if link.kind != "same_nights" or degree[link.first] + degree[link.second] != 2:
            continue
        common = _common_starts(options, link)
        rest = tuple(x for x in part.links if x is not link)
        groups = _groups(part, rest)
        if len(groups) != 2 or len(common) + 1 > LEAF_CASE_LIMIT:
            continue
        runs = [sum(r.telescope in g for r in part.runs) for g in groups]
        leaf, center = (groups[0], groups[1]) if runs[0] <= runs[1] else (groups[1], groups[0])
        starts = sum(len(o.starts) for o in options.values() if o.run.telescope in leaf)
        if starts > LEAF_MAX_STARTS:
            continue
        leaf_run, center_run = (
            (link.first, link.second)
            if part.run(link.first).telescope in leaf
            else (link.second, link.first)
        )
        unlinked = replace_runs(part, {}, rest)
        cases: list[tuple[int | None, Problem]] = []
        for s in common:
            pin = Pin(leaf_run, part.dates[s // 2], bool(s % 2))
            cases.append((s, telescopes(replace_runs(part, {}, rest, (pin,)), leaf)))
        without = replace_runs(part, {leaf_run: _never(part, part.run(leaf_run))}, rest)
        cases.append((None, telescopes(without, leaf)))
        cost = len(cases) * min(runs)
        if best is None or cost < best[0]:
            tab = Tabulated(telescopes(unlinked, center), center_run, tuple(cases), link.describe())
            best = (cost, tab)
    return part if best is None else best[1]


def _common_starts(options: dict[str, VMOption], link: Link) -> list[int]:
    a, b = options[link.first].starts.tolist(), options[link.second].starts.tolist()
    return sorted(set(a) & set(b))


def _never(problem: Problem, run: Run) -> Run:
    """``run`` with every date impossible (it cannot be scheduled)."""
    return replace(run, impossible=frozenset(problem.dates))


def replace_runs(
    problem: Problem,
    runs: dict[str, Run],
    links: tuple[Link, ...],
    pins: tuple[Pin, ...] = (),
) -> Problem:
    """``problem`` with some runs replaced, these links and extra pins."""
    return Problem(
        dates=problem.dates,
        dark_hours=problem.dark_hours,
        moon_fli=problem.moon_fli,
        telescopes=problem.telescopes,
        runs=tuple(runs.get(r.id, r) for r in problem.runs),
        links=links,
        pins=problem.pins + pins,
        ra_bins=problem.ra_bins,
    )


def _groups(problem: Problem, links: tuple[Link, ...]) -> list[set[str]]:
    """Telescope names grouped by ``links`` (connected components)."""
    parent = {t.name: t.name for t in problem.telescopes}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for link in links:
        a = find(problem.run(link.first).telescope)
        b = find(problem.run(link.second).telescope)
        parent[a] = b
    groups: dict[str, set[str]] = {}
    for t in problem.telescopes:
        groups.setdefault(find(t.name), set()).add(t.name)
    return list(groups.values())


def telescopes(problem: Problem, names: set[str]) -> Problem:
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
