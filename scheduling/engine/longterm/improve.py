"""The end of every solve: a cheap improvement pass, then the deliverable SM schedule.

The solvers place VM runs and judge SM time by blocks of nights; a search stopped by its time
limit can leave whole nights empty that a left-out run could fill. :func:`finish`

1. *fills*: puts left-out VM runs (best first) on feasible starts whose half-nights are free
   and carry no delivered SM hours (the SM schedule then cannot lose anything);
2. *swaps*: where a left-out run is worth more than the unpinned, unlinked runs in its way,
   tries it instead of them and keeps the change if the whole objective rises, SM included
   (recomputed night by night, :mod:`.smflow`), within a time budget;
3. builds the final schedule: VM starts, the SM hours delivered around them (each run's hours
   per night), reservations per SM group and block, and the objective recomputed by
   :func:`.solution.score`; ``SolveInfo.improvement`` says what the pass added.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

import numpy as np

from scheduling.engine.longterm.feasibility import VMOption, sm_blocks, vm_options
from scheduling.engine.longterm.problem import Problem
from scheduling.engine.longterm.smflow import SMNetwork, deliver, free_halves
from scheduling.engine.longterm.solution import Reservation, Solution, SolveInfo, score

MAX_SWAP_TRIES_PER_RUN = 4
"""Swap candidates evaluated per left-out run (each costs one flow of its telescope)."""


def finish(
    problem: Problem, vm_starts: Mapping[str, int], info: SolveInfo, *, budget_s: float
) -> Solution:
    """The final schedule of ``vm_starts`` after the improvement pass (at most ``budget_s``
    seconds); ``info`` is the solver's, its objective replaced by the final one."""
    net = SMNetwork(problem)
    before = _value(problem, net, vm_starts)
    improved = _improve(problem, net, dict(vm_starts), time.perf_counter() + budget_s)
    final = _solution(problem, net, improved, info)
    gained = final.info.objective - before
    return dataclasses.replace(final, info=dataclasses.replace(final.info, improvement=gained))


def _value(problem: Problem, net: SMNetwork, vm_starts: Mapping[str, int]) -> int:
    return score(problem, vm_starts, {}).objective + deliver(problem, vm_starts, net).value


def _improve(
    problem: Problem, net: SMNetwork, vm: dict[str, int], deadline: float
) -> dict[str, int]:
    """Passes over the left-out runs, best first, until one changes nothing or time is up."""
    options = vm_options(problem)
    fixed = {p.run for p in problem.pins} | {
        r for link in problem.links for r in (link.first, link.second)
    }
    board = _Board(problem, net, vm)
    changed = True
    while changed and time.perf_counter() < deadline:
        changed = False
        left = sorted(
            (o for r, o in options.items() if r not in vm and r not in fixed and len(o.starts)),
            key=lambda o: (-o.value, o.run.id),
        )
        for option in left:
            if time.perf_counter() > deadline:
                break
            placed = board.fill(option)
            if placed is None:
                placed = board.swap(option, fixed)
            if placed is not None:
                board.place(option, *placed)
                changed = True
    return vm


class _Board:
    """One schedule being improved: who occupies each half-night, and the SM hours each
    night delivers (a night without any can take a VM run at no loss)."""

    def __init__(self, problem: Problem, net: SMNetwork, vm: dict[str, int]) -> None:
        self.problem, self.net, self.vm = problem, net, vm
        self.on = {
            t.name: {r.id for r in problem.runs if r.telescope == t.name}
            for t in problem.telescopes
        }
        self.occupant: dict[str, list[str | None]] = {
            t.name: [None] * (2 * problem.n_nights) for t in problem.telescopes
        }
        for rid, s in vm.items():
            self._occupy(rid, s, rid)
        self.unavailable = {
            t.name: np.repeat(problem.unavailable(t.name), 2) for t in problem.telescopes
        }
        self.sm_nights = {t.name: self._sm_per_night(t.name) for t in problem.telescopes}

    def _occupy(self, rid: str, start: int, who: str | None) -> None:
        run = self.problem.run(rid)
        self.occupant[run.telescope][start : start + run.slots] = [who] * run.slots

    def _free(self, tel: str, vm: Mapping[str, int]) -> np.ndarray:
        return free_halves(self.problem, {r: s for r, s in vm.items() if r in self.on[tel]})[tel]

    def _sm_per_night(self, tel: str) -> np.ndarray:
        out = np.zeros(self.problem.n_nights)
        for per_night in self.net.deliver(tel, self._free(tel, self.vm)).nights.values():
            for n, h in per_night.items():
                out[n] += h
        return out

    def value(self, tel: str, vm: Mapping[str, int]) -> int:
        """VM and delivered SM objective of one telescope."""
        mine = {r: s for r, s in vm.items() if r in self.on[tel]}
        return (
            score(self.problem, mine, {}).objective
            + self.net.deliver(tel, self._free(tel, vm)).value
        )

    def fill(self, option: VMOption) -> tuple[int, list[str]] | None:
        """The best-bonus start on free half-nights of nights without SM hours, if any."""
        tel = option.run.telescope
        occupant, unavailable, sm = self.occupant[tel], self.unavailable[tel], self.sm_nights[tel]
        best: tuple[int, int] | None = None
        for s, bonus in zip(option.starts.tolist(), option.bonus.tolist(), strict=True):
            slots = range(s, s + option.run.slots)
            if any(occupant[x] is not None or unavailable[x] or sm[x // 2] > 0 for x in slots):
                continue
            if best is None or bonus > best[1]:
                best = (s, bonus)
        return None if best is None else (best[0], [])

    def swap(self, option: VMOption, fixed: set[str]) -> tuple[int, list[str]] | None:
        """A start where the run replaces cheaper movable runs (or SM hours) and the
        telescope's whole objective rises: the best of a few tries, each valued by a flow."""
        tel = option.run.telescope
        occupant = self.occupant[tel]
        tries: list[tuple[int, int, list[str]]] = []
        for s, bonus in zip(option.starts.tolist(), option.bonus.tolist(), strict=True):
            slots = range(s, s + option.run.slots)
            if any(self.unavailable[tel][x] for x in slots):
                continue
            blockers = sorted({o for x in slots if (o := occupant[x]) is not None})
            if any(b in fixed for b in blockers):
                continue
            lost = score(self.problem, {b: self.vm[b] for b in blockers}, {}).objective
            if option.value + bonus > lost:
                tries.append((lost - option.value - bonus, s, blockers))
        tries.sort()
        current = self.value(tel, self.vm)
        best: tuple[int, int, list[str]] | None = None
        for _, s, blockers in tries[:MAX_SWAP_TRIES_PER_RUN]:
            trial = {r: x for r, x in self.vm.items() if r not in blockers}
            trial[option.run.id] = s
            value = self.value(tel, trial)
            if value > current and (best is None or value > best[0]):
                best = (value, s, blockers)
        return None if best is None else (best[1], best[2])

    def place(self, option: VMOption, start: int, removed: list[str]) -> None:
        for rid in removed:
            self._occupy(rid, self.vm.pop(rid), None)
        self.vm[option.run.id] = start
        self._occupy(option.run.id, start, option.run.id)
        tel = option.run.telescope
        self.sm_nights[tel] = self._sm_per_night(tel)


def _solution(problem: Problem, net: SMNetwork, vm: Mapping[str, int], info: SolveInfo) -> Solution:
    sm = deliver(problem, vm, net)
    final = dataclasses.replace(info, objective=score(problem, vm, sm.served).objective)
    return Solution(dict(vm), sm.served, _reservations(problem, sm.nights), final, sm.nights)


def _reservations(
    problem: Problem, nights: Mapping[str, Mapping[int, float]]
) -> tuple[Reservation, ...]:
    """The delivered SM hours summed per SM group and block of nights."""
    block_of: dict[str, dict[int, tuple[int, int]]] = {}
    for b in sm_blocks(problem):
        for n in range(b.first, b.last + 1):
            block_of.setdefault(b.telescope, {})[n] = (b.first, b.last)
    hours: dict[tuple[str, int, int, str, float, int], float] = {}
    for rid, per_night in nights.items():
        run = problem.run(rid)
        for n, h in per_night.items():
            first, last = block_of[run.telescope][n]
            key = (
                run.telescope,
                first,
                last,
                run.instrument,
                float(run.max_fli),
                problem.ra_bin(run.ra_deg),
            )
            hours[key] = hours.get(key, 0.0) + h
    return tuple(
        Reservation(tel, first, last, inst, fli, rbin, round(h, 3))
        for (tel, first, last, inst, fli, rbin), h in sorted(hours.items())
    )
