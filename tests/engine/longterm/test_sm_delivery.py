"""SM hours a queue can really use: a run is served only from nights on which it is visible,
under its moon limit, with its instrument mounted (checked night by night with an
independent max-flow)."""

from collections.abc import Callable
from functools import partial

import numpy as np
import pytest
from ortools.graph.python import max_flow

from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.cpsat import solve_cpsat
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.engine.longterm.problem import Problem
from scheduling.engine.longterm.solution import Solution, statistics
from tests.engine.longterm.builders import problem, sm, telescope, vm

SOLVERS: dict[str, Callable[[Problem], Solution]] = {
    "greedy": solve_greedy,
    "cpsat": partial(solve_cpsat, time_limit_s=10, random_seed=1),
}


@pytest.fixture(params=sorted(SOLVERS))
def solve(request):
    return SOLVERS[request.param]


def deliverable_hours(p: Problem, s: Solution) -> float:
    """Max-flow of the served hours through the nights each run could use (written here, not
    taken from the engine): run -> night (its visible share of the night's free half-nights,
    moon and instrument permitting) -> night capacity (free half-nights x half-night)."""
    flow = max_flow.SimpleMaxFlow()
    source, sink = 0, 1
    runs = [r for r in p.runs if r.mode == "SM"]
    night_node = {
        (t.name, n): 2 + len(runs) + i * p.n_nights + n
        for i, t in enumerate(p.telescopes)
        for n in range(p.n_nights)
    }
    free = {t.name: np.where(p.unavailable(t.name), 0, 2) for t in p.telescopes}
    for rid, start in s.vm_starts.items():
        run = p.run(rid)
        for slot in range(start, start + run.slots):
            free[run.telescope][slot // 2] -= 1
    scale = 1000  # integer capacities in thousandths of an hour
    for (tel, n), node in night_node.items():
        cap = p.dark_hours[n] / 2 * free[tel][n]
        flow.add_arc_with_capacity(node, sink, int(cap * scale))
    for i, r in enumerate(runs):
        node = 2 + i
        flow.add_arc_with_capacity(source, node, int(s.sm_served.get(r.id, 0.0) * scale))
        mounted = p.telescope(r.telescope).mounted[r.instrument]
        for n in range(p.n_nights):
            if p.moon_fli[n] > r.max_fli or not mounted[n]:
                continue
            share = min(r.visible_hours[n], p.dark_hours[n]) / 2 * free[r.telescope][n]
            if share > 0:
                flow.add_arc_with_capacity(node, night_node[(r.telescope, n)], int(share * scale))
    assert flow.solve(source, sink) == flow.OPTIMAL
    return flow.optimal_flow() / scale


def test_a_run_never_visible_gets_no_hours_from_its_group(solve):
    # given two SM runs of one group (same telescope, instrument, moon limit and RA bin): one
    # visible every night, the other never
    p = problem(
        [sm("seen", 10, visible=8.0, rank_class="B"), sm("never", 10, visible=0.0, rank_class="A")]
    )
    # when
    s = solve(p)
    # then
    assert check_solution(p, s) == []
    assert s.sm_served.get("never", 0.0) == 0.0
    assert s.sm_served["seen"] == pytest.approx(10.0)


def test_a_run_is_served_only_on_nights_its_moon_and_instrument_allow(solve):
    # given a dark-time run on a period whose only dark nights have its instrument off
    n = 10
    moon = np.array([0.1] * 3 + [0.9] * 7)
    kmos = np.zeros(n, dtype=bool)
    kmos[3:] = True
    tel = telescope(instruments={"FORS2": np.ones(n, dtype=bool), "KMOS": kmos})
    p = problem([sm("dark-kmos", 20, instrument="KMOS", max_fli=0.4)], telescopes=[tel], moon=moon)
    # when
    s = solve(p)
    # then
    assert check_solution(p, s) == []
    assert s.sm_served.get("dark-kmos", 0.0) == 0.0


def test_served_hours_are_delivered_night_by_night(solve):
    # given runs of one group visible on different halves of the period, VM taking some nights
    n = 10
    early = np.array([8.0] * 5 + [0.0] * 5)
    late = early[::-1].copy()
    p = problem(
        [
            vm("v", 3, rank_class="A"),
            sm("early", 30, visible=early, rank_class="A"),
            sm("late", 30, visible=late, rank_class="B"),
            sm("both", 30, visible=4.0, rank_class="C"),
        ],
        n=n,
    )
    # when
    s = solve(p)
    # then: every served hour passes the night-by-night flow, and the per-night assignment the
    # engine returns adds up to the served hours
    assert check_solution(p, s) == []
    served = sum(s.sm_served.values())
    assert served > 0
    assert deliverable_hours(p, s) == pytest.approx(served, abs=0.01 * len(s.sm_served))
    for rid, hours in s.sm_served.items():
        assert sum(s.sm_nights[rid].values()) == pytest.approx(hours, abs=0.051)
    stats = statistics(p, s)
    assert stats.sm_deliverable_hours == pytest.approx(served, abs=0.06 * len(s.sm_served))
