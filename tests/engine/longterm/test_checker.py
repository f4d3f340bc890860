"""The independent checker rejects deliberately broken solutions."""

import dataclasses

import numpy as np
import pytest

from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.cpsat import solve_cpsat
from scheduling.engine.longterm.problem import Link, Pin
from scheduling.engine.longterm.solution import Reservation, Solution, score
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


def broken(p, s, vm_starts=None, sm_served=None, reservations=None) -> Solution:
    """A copy of ``s`` with some parts replaced and an honest objective (so that only the
    constraint checks can catch it)."""
    vm_starts = dict(s.vm_starts if vm_starts is None else vm_starts)
    sm_served = dict(s.sm_served if sm_served is None else sm_served)
    info = dataclasses.replace(s.info, objective=score(p, vm_starts, sm_served).objective)
    return Solution(
        vm_starts, sm_served, tuple(s.reservations if reservations is None else reservations), info
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


def test_checker_rejects_sm_hours_beyond_reservations_and_capacity(solved):
    p, s = solved
    over_served = broken(p, s, sm_served={"smA": 12.0}, reservations=())
    assert any("reserved" in e for e in check_solution(p, over_served))
    # 5 dark nights x 2 halves x 3 visible hours = 30 h; reserve 40 h in that block
    greedy_block = Reservation("UT1", 0, 4, "FORS2", 0.4, p.ra_bin(90.0), 40.0)
    too_much = broken(p, s, sm_served={"smA": 12.0}, reservations=(greedy_block,))
    assert any("of visible SM time" in e for e in check_solution(p, too_much))


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
