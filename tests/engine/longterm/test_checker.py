"""The independent checker rejects deliberately broken solutions."""

import dataclasses

import numpy as np
import pytest

from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.cpsat import solve_cpsat
from scheduling.engine.longterm.problem import Link, Pin
from scheduling.engine.longterm.solution import Solution, score
from tests.engine.longterm.builders import day, days, problem, sm, telescope, vm


@pytest.fixture
def solved():
    # given a valid solution of a small problem with every kind of constraint
    n = 10
    moon = np.array([0.1] * 5 + [0.9] * 5)
    tel = telescope(n=n, technical=(9,))
    runs = [
        vm("dark", 2, max_fli=0.4, rank_class="A", impossible=days(0)),
        vm("any", 1, rank_class="B"),
        vm("pinned", 1, rank_class="C"),
        sm("smA", 12.0, rank_class="A", max_fli=0.4, visible=6.0),
    ]
    p = problem(runs, moon=moon, telescopes=[tel], pins=(Pin("pinned", day(7)),))
    s = solve_cpsat(p, time_limit_s=10)
    assert check_solution(p, s) == []
    return p, s


def broken(p, s, vm_starts=None, sm_served=None, reservations=None, sm_nights=None) -> Solution:
    """A copy of ``s`` with some parts replaced and an honest objective (so that only the
    constraint checks can catch it)."""
    vm_starts = dict(s.vm_starts if vm_starts is None else vm_starts)
    sm_served = dict(s.sm_served if sm_served is None else sm_served)
    info = dataclasses.replace(s.info, objective=score(p, vm_starts, sm_served).objective)
    return Solution(
        vm_starts,
        sm_served,
        tuple(s.reservations if reservations is None else reservations),
        info,
        s.sm_nights if sm_nights is None else sm_nights,
    )


def test_checker_rejects_a_run_on_a_bright_night(solved):
    p, s = solved
    bad = broken(p, s, vm_starts={**s.vm_starts, "dark": 2 * 5})
    assert any("moon FLI 0.90 > 0.4" in e for e in check_solution(p, bad))


def test_checker_rejects_two_runs_on_one_half_night(solved):
    p, s = solved
    bad = broken(p, s, vm_starts={**s.vm_starts, "any": s.vm_starts["dark"]})
    assert any("both on UT1" in e for e in check_solution(p, bad))


def test_checker_rejects_technical_impossible_and_unpinned_placements(solved):
    p, s = solved
    bad = broken(p, s, vm_starts={**s.vm_starts, "any": 18, "dark": 0, "pinned": 16})
    errors = check_solution(p, bad)
    assert any("technical or closed" in e for e in errors)
    assert any("impossible date" in e for e in errors)
    assert any("pin pinned on 2026-04-08" in e for e in errors)


def test_checker_rejects_sm_hours_beyond_reservations_and_nights(solved):
    p, s = solved
    assert 0 < s.sm_served["smA"] <= 12.0
    # served more than reserved and than its nights add up to
    over = broken(p, s, sm_served={"smA": s.sm_served["smA"] + 3.0})
    errors = check_solution(p, over)
    assert any("reserved" in e for e in errors)
    assert any("its nights add up to" in e for e in errors)
    # hours on a bright night (FLI 0.9 > 0.4)
    bright = broken(p, s, sm_nights={"smA": {**s.sm_nights["smA"], 6: 0.5}})
    assert any("moon FLI above 0.4" in e for e in check_solution(p, bright))
    # more than its visible share (6 h visible -> 3 h per free half-night) on one night
    free_night = min(s.sm_nights["smA"])
    greedy_night = broken(p, s, sm_nights={"smA": {free_night: 7.0}})
    assert any("visible in the free half-nights" in e for e in check_solution(p, greedy_night))


def test_checker_rejects_sm_hours_beyond_a_nights_free_half_nights():
    # two runs each within its own share, together over the night's one free half
    runs = [
        vm("v", 0.5, n=2, rank_class="A"),
        sm("a", 5.0, n=2, visible=10.0),
        sm("b", 5.0, n=2, visible=10.0),
    ]
    p = problem(runs, n=2)
    s = solve_cpsat(p, time_limit_s=10)
    assert check_solution(p, s) == []
    night = s.vm_starts["v"] // 2
    both = broken(
        p, s, sm_nights={"a": {night: 5.0}, "b": {night: 5.0}}, sm_served={"a": 5.0, "b": 5.0}
    )
    assert any("of free half-nights" in e for e in check_solution(p, both))


def test_checker_recomputes_the_objective_itself(solved, monkeypatch):
    # given the solvers' weights drift from the documented ones (class B worth 60, not 50)
    p, s = solved
    from scheduling.engine.longterm import feasibility

    monkeypatch.setitem(feasibility.CLASS_WEIGHT, "B", 60)
    drifted = dataclasses.replace(s.info, objective=score(p, s.vm_starts, s.sm_served).objective)
    # then the checker, which does not use score(), disagrees with the solvers
    bad = dataclasses.replace(s, info=drifted)
    assert any("claimed objective" in e for e in check_solution(p, bad))


def test_checker_rejects_a_claimed_objective_that_does_not_match(solved):
    p, s = solved
    bad = Solution(
        s.vm_starts,
        s.sm_served,
        s.reservations,
        dataclasses.replace(s.info, objective=s.info.objective + 1),
    )
    assert any("claimed objective" in e for e in check_solution(p, bad))


def test_checker_rejects_a_broken_link():
    tels = [telescope("UT1"), telescope("UT2")]
    runs = [vm("a", 1), vm("b", 1, telescope="UT2")]
    p = problem(runs, telescopes=tels, links=(Link("a", "b", "same_nights"),))
    s = solve_cpsat(p, time_limit_s=10)
    only_one = broken(p, s, vm_starts={"a": s.vm_starts["a"]})
    apart = broken(p, s, vm_starts={"a": 0, "b": 4})
    assert any("only one of the two runs" in e for e in check_solution(p, only_one))
    assert any("starts differ" in e for e in check_solution(p, apart))
