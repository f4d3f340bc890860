"""The sub-problems CP-SAT solves for one problem (:mod:`.cpsat`), and how their results add
up again.

Each independent part (:func:`.decompose.split`) is one job, unless it is tabulated
(:func:`.decompose.tabulate`): then each case of its leaf is a job, and its center is planned
the same way again (a chain of telescopes is tabulated link by link), its run of the pair
carrying a :class:`Table` of the leaf's cases. A job waits for the jobs of its tables and
counts each start of a table's run at the leaf's objective there (:func:`values`). The part's
schedule is its root job's, with the chosen case of every table (:func:`schedule`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scheduling.engine.longterm.cpmodel import Part
from scheduling.engine.longterm.decompose import leaf_values, tabulate
from scheduling.engine.longterm.problem import Problem


@dataclass(frozen=True)
class Table:
    """A job's run of a tabulated pair: the job that solved the leaf with the pair's other run
    on each common start (``None``: the pair left out)."""

    run: str
    cases: tuple[tuple[int | None, int], ...]  # (start slot, job index)


@dataclass(frozen=True)
class Job:
    """One sub-problem: its problem, what it is (for the solve's report), the tables of its
    runs, and whether it is a case of a leaf (which gets part of the time only)."""

    problem: Problem
    label: str
    tables: tuple[Table, ...] = ()
    leaf: bool = False

    def waits_for(self) -> list[int]:
        return [k for table in self.tables for _, k in table.cases]


def plan(parts: Sequence[Problem]) -> tuple[list[Job], list[int]]:
    """The jobs of ``parts``, each after the jobs it waits for, and each part's root job."""
    jobs: list[Job] = []
    roots = [_add(part, jobs, (), "") for part in parts]
    return jobs, roots


def _add(part: Problem, jobs: list[Job], tables: tuple[Table, ...], label: str) -> int:
    split = tabulate(part)
    if isinstance(split, Problem):
        jobs.append(Job(split, label, tables))
        return len(jobs) - 1
    in_leaf = {r.id for r in split.leaves[0][1].runs}
    cases = []
    for slot, leaf in split.leaves:
        case = "left out" if slot is None else f"on slot {slot}"
        mine = tuple(t for t in tables if t.run in in_leaf)
        jobs.append(Job(leaf, f"{split.label}: leaf, pair {case}", mine, leaf=True))
        cases.append((slot, len(jobs) - 1))
    rest = tuple(t for t in tables if t.run not in in_leaf)
    table = Table(split.run, tuple(cases))
    return _add(split.center, jobs, (*rest, table), f"{split.label}: center")


def values(job: Job, objectives: Mapping[int, int | None]) -> tuple[dict[str, dict[int, int]], int]:
    """What ``job``'s tables add to its objective: per run, the value of each start, and a
    constant (``objectives``: of the jobs it waits for, by job index)."""
    out: dict[str, dict[int, int]] = {}
    offset = 0
    for table in job.tables:
        slots = [slot for slot, _ in table.cases]
        table_values, constant = leaf_values(slots, [objectives[k] for _, k in table.cases])
        out[table.run] = table_values
        offset += constant
    return out, offset


def subtree(jobs: Sequence[Job], root: int) -> list[int]:
    """``root`` and every job it waits for, directly or not."""
    out, todo = [], [root]
    while todo:
        j = todo.pop()
        out.append(j)
        todo.extend(jobs[j].waits_for())
    return out


def schedule(
    jobs: Sequence[Job], results: Sequence[Part], root: int
) -> tuple[dict[str, int], float]:
    """The VM starts and block-model SM hours of the part solved by ``root``: its own, and for
    each table the case of the start it chose (the run absent: the case without the pair)."""
    starts = dict(results[root].vm_starts or {})
    sm_hours = results[root].sm_hours
    for table in jobs[root].tables:
        chosen = starts.get(table.run)
        k = next(k for slot, k in table.cases if slot == chosen)
        more, hours = schedule(jobs, results, k)
        starts.update(more)
        sm_hours += hours
    return starts, sm_hours


def upper_bound(
    jobs: Sequence[Job],
    results: Sequence[Part],
    bounds: Sequence[int],
    trivial: Sequence[int],
    j: int,
) -> int:
    """A bound of job ``j`` with its tables' true values: its own bound (which counted each
    case at its objective) plus, per table, the most a case's bound exceeds its objective; a
    case without a schedule (left out of the table or counted zero) leaves ``j``'s trivial
    bound plus the best case's bound."""
    tables = jobs[j].tables
    objectives = {k: results[k].objective for k in jobs[j].waits_for()}
    if any(o is None for o in objectives.values()):
        return trivial[j] + sum(
            max(upper_bound(jobs, results, bounds, trivial, k) for _, k in t.cases) for t in tables
        )
    gains = (
        max(
            upper_bound(jobs, results, bounds, trivial, k) - (objectives[k] or 0)
            for _, k in t.cases
        )
        for t in tables
    )
    return bounds[j] + sum(gains)
