"""SM hours a queue can really deliver, night by night.

The solvers reserve SM time per block of nights (:mod:`.feasibility`); the hours that count
are those a queue could actually observe: each run on nights where it is visible, under its
moon limit, with its instrument mounted, in half-nights that neither VM nor the calendar
takes. :func:`deliver` computes them as a maximum-weight flow (OR-Tools min-cost flow)::

    source -> run r            capacity: r's requested hours, cost: -weight(r)
    run r -> (group, night)    capacity: r's visible share of the night's free half-nights
    (group, night) -> night    capacity: the group's window (its widest member's share)
    night -> sink              capacity: the free half-nights' hours

so it gives the most valuable SM schedule a fixed VM placement leaves room for, with each
run's hours per night. Integers: tenths of an hour, rounded down (never promises more).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from scheduling.engine.longterm.feasibility import (
    HOUR_UNITS,
    SMGroup,
    run_share,
    run_weight,
    sm_groups,
)
from scheduling.engine.longterm.problem import Problem


@dataclass(frozen=True)
class Delivery:
    """Served hours per SM run, the nights they come from, and their objective value."""

    served: dict[str, float]
    nights: dict[str, dict[int, float]]  # run -> night index -> hours
    value: int  # sum of weight x tenths of an hour


class SMNetwork:
    """The parts of the flow that do not depend on the VM placement, built once per problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.groups: dict[str, list[SMGroup]] = {}
        for g in sm_groups(problem):
            self.groups.setdefault(g.key[0], []).append(g)
        self.share = {r.id: run_share(problem, r) for r in problem.runs if r.mode == "SM"}
        self.weight = {r.id: run_weight(r) for r in problem.runs if r.mode == "SM"}
        self.request = {
            r.id: int(round(r.hours * HOUR_UNITS)) for r in problem.runs if r.mode == "SM"
        }

    def deliver(self, telescope: str, free: np.ndarray) -> Delivery:
        """Best SM schedule of ``telescope`` given its free half-nights (int[D], 0..2)."""
        groups = self.groups.get(telescope, [])
        if not groups:
            return Delivery({}, {}, 0)
        dark = self.problem.dark_hours
        half = np.floor(dark / 2 * HOUR_UNITS).astype(np.int64)
        night_cap = half * free
        nights = np.flatnonzero(night_cap > 0)
        flow = min_cost_flow.SimpleMinCostFlow()
        source, sink = 0, 1
        night_node = {n: 2 + i for i, n in enumerate(nights.tolist())}
        nxt = 2 + len(nights)
        tails: list[int] = []
        heads: list[int] = []
        caps: list[int] = []
        costs: list[int] = []

        def arc(a: int, b: int, cap: int, cost: int = 0) -> int:
            tails.append(a)
            heads.append(b)
            caps.append(cap)
            costs.append(cost)
            return len(tails) - 1

        for n, node in night_node.items():
            arc(node, sink, int(night_cap[n]))
        run_arcs: dict[str, int] = {}
        night_arcs: list[tuple[str, int, int]] = []  # run, night, arc
        total = 0
        for g in groups:
            shares = np.array([self.share[rid] for rid in g.members])  # hours per half-night
            window = np.floor(shares.max(axis=0) * HOUR_UNITS).astype(np.int64) * free
            gnode: dict[int, int] = {}
            for night in np.flatnonzero(window > 0).tolist():
                if night in night_node:
                    gnode[night] = nxt
                    arc(nxt, night_node[night], int(window[night]))
                    nxt += 1
            for rid, share in zip(g.members, shares, strict=True):
                own = np.floor(share * HOUR_UNITS).astype(np.int64) * free
                usable = [x for x in np.flatnonzero(own > 0).tolist() if x in gnode]
                if not usable:
                    continue
                rnode = nxt
                nxt += 1
                run_arcs[rid] = arc(source, rnode, self.request[rid], -self.weight[rid])
                total += self.request[rid]
                for x in usable:
                    night_arcs.append((rid, x, arc(rnode, gnode[x], int(own[x]))))
        if total == 0:
            return Delivery({}, {}, 0)
        arc(source, sink, total)  # what no night can take bypasses them, at no value
        flow.add_arcs_with_capacity_and_unit_cost(
            np.array(tails), np.array(heads), np.array(caps), np.array(costs)
        )
        flow.set_node_supply(source, total)
        flow.set_node_supply(sink, -total)
        if flow.solve() != flow.OPTIMAL:  # a balanced network with a bypass is always feasible
            raise RuntimeError(f"SM delivery flow of {telescope} did not solve")
        served: dict[str, float] = {}
        value = 0
        for rid, a in run_arcs.items():
            f = int(flow.flow(a))
            if f > 0:
                served[rid] = f / HOUR_UNITS
                value += f * self.weight[rid]
        per_night: dict[str, dict[int, float]] = {}
        for rid, n, a in night_arcs:
            f = int(flow.flow(a))
            if f > 0:
                per_night.setdefault(rid, {})[n] = f / HOUR_UNITS
        return Delivery(served, per_night, value)


def free_halves(problem: Problem, vm_starts: Mapping[str, int]) -> dict[str, np.ndarray]:
    """telescope -> int[D]: half-nights (0..2) neither VM, technical nor closed."""
    out = {}
    for t in problem.telescopes:
        f = np.full(problem.n_nights, 2, dtype=np.int64)
        f[problem.unavailable(t.name)] = 0
        out[t.name] = f
    for rid, s in vm_starts.items():
        run = problem.run(rid)
        for x in range(s, s + run.slots):
            out[run.telescope][x // 2] -= 1
    return out


def deliver(
    problem: Problem, vm_starts: Mapping[str, int], net: SMNetwork | None = None
) -> Delivery:
    """The best deliverable SM schedule of every telescope around ``vm_starts``."""
    net = net if net is not None else SMNetwork(problem)
    free = free_halves(problem, vm_starts)
    served: dict[str, float] = {}
    nights: dict[str, dict[int, float]] = {}
    value = 0
    for t in problem.telescopes:
        part = net.deliver(t.name, free[t.name])
        served.update(part.served)
        nights.update(part.nights)
        value += part.value
    return Delivery(served, nights, value)
