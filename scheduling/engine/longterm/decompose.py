"""Independent parts of a long-term problem, and the cases a part splits into.

Telescopes that no link ties together are independent problems (:func:`split`); a part tied
only by one same-nights pair with a single common start is solved as two cases, the pair placed
or left out, each of independent problems (:func:`cases`). :mod:`.cpsat` solves them all in
one flat pool and keeps each part's best case.
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


CASE_LIMIT = 2
"""A same-nights pair is split by cases only if this makes at most this many cases (its
runs share at most ``CASE_LIMIT - 1`` feasible starts): each case solves every group of the
part once more."""


@dataclass(frozen=True)
class Case:
    """One alternative way to solve a part: independent problems, and what the case decided
    (empty when the part is not split)."""

    label: str
    problems: tuple[Problem, ...]


def cases(part: Problem) -> list[Case]:
    """The alternative ways to solve ``part``, each as independent problems.

    Usually one case, the part itself. But when one same-nights pair alone ties two groups of
    telescopes (no other link between them, no other link on its runs, no pin in the part:
    so that every case is feasible), and its runs share few feasible starts (see
    :data:`CASE_LIMIT`), the part splits into cases: the pair pinned on each common start,
    or both runs left out (made impossible). In each case the two groups are independent;
    the part's optimum is the best case's. CP-SAT does not split a joint model by itself:
    measured on the 300-run benchmark period of generator seed 1 (UT3 and UT4 tied by two
    5-night runs with one common start), the joint model was not proven in 55 s, the two
    cases (four one-telescope problems) in 14-51 s, the other two telescopes alongside
    (load average 3-5).
    """
    if part.pins:
        return [Case("", (part,))]
    options = vm_options(part)
    degree: dict[str, int] = {}
    for link in part.links:
        for r in (link.first, link.second):
            degree[r] = degree.get(r, 0) + 1
    for link in part.links:
        if link.kind != "same_nights" or degree[link.first] + degree[link.second] != 2:
            continue
        common = _common_starts(options, link)
        groups = _groups(part, tuple(x for x in part.links if x is not link))
        if len(groups) != 2 or len(common) + 1 > CASE_LIMIT:
            continue
        out = []
        for s in common:
            when = part.dates[s // 2]
            pins = (Pin(link.first, when, bool(s % 2)), Pin(link.second, when, bool(s % 2)))
            pinned = replace_runs(part, {}, tuple(x for x in part.links if x is not link), pins)
            label = f"{link.describe()} on slot {s}"
            out.append(Case(label, tuple(telescopes(pinned, names) for names in groups)))
        never = {r: _never(part, part.run(r)) for r in (link.first, link.second)}
        without = replace_runs(part, never, tuple(x for x in part.links if x is not link))
        label = f"{link.describe()} left out"
        out.append(Case(label, tuple(telescopes(without, names) for names in groups)))
        return out
    return [Case("", (part,))]


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
