"""The end-of-solve pass: left-out runs fill free nights, and swaps that raise the objective."""

import numpy as np

from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.improve import finish
from scheduling.engine.longterm.solution import SolveInfo
from tests.engine.longterm.builders import problem, sm, vm

INFO = SolveInfo("test", "FEASIBLE", 0, None, 0.0)


def test_a_left_out_run_fills_empty_nights_and_the_gain_is_reported():
    # given a schedule that left run b out although nights 3-4 are empty
    p = problem([vm("a", 2, n=5, rank_class="A"), vm("b", 2, n=5, rank_class="B")], n=5)
    # when
    s = finish(p, {"a": 0}, INFO, budget_s=5)
    # then
    assert s.vm_starts["a"] == 0 and "b" in s.vm_starts
    assert check_solution(p, s) == []
    assert (
        s.info.improvement
        == s.info.objective - finish(p, {"a": 0}, INFO, budget_s=0).info.objective
    )
    assert s.info.improvement > 0


def test_a_better_run_replaces_a_cheaper_one_in_its_only_window():
    # given a C run on the only nights where an A run is visible
    n = 4
    p = problem(
        [
            vm("c", 2, n=n, rank_class="C"),
            vm("a", 2, n=n, rank_class="A", visible=np.array([8, 8, 0, 0.0])),
        ],
        n=n,
    )
    # when
    s = finish(p, {"c": 0}, INFO, budget_s=5)
    # then: a takes nights 0-1; c, moved out, comes back on 2-3 (a fill)
    assert s.vm_starts == {"a": 0, "c": 4}
    assert check_solution(p, s) == []


def test_a_swap_that_costs_more_sm_than_it_gains_is_not_made():
    # given a class-C VM run left out and every night full of class-A SM time
    n = 3
    p = problem([vm("c", 1, n=n, rank_class="C"), sm("a", 30.0, n=n, rank_class="A")], n=n)
    # when
    s = finish(p, {}, INFO, budget_s=5)
    # then: the nights stay SM
    assert s.vm_starts == {}
    assert s.sm_served["a"] == 30.0
    assert check_solution(p, s) == []
