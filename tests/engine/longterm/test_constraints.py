"""Every hard constraint and the objective, on small hand-made problems (no database, no sky)."""

from collections.abc import Callable
from functools import partial

import numpy as np
import pytest

from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.cpsat import solve_cpsat
from scheduling.engine.longterm.feasibility import CLASS_WEIGHT, grade_weight, vm_value
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.engine.longterm.problem import Problem, ProblemError
from scheduling.engine.longterm.solution import Solution, night_labels, score
from tests.engine.longterm.builders import day, days, nights_of, problem, sm, telescope, vm

SOLVERS: dict[str, Callable[[Problem], Solution]] = {
    "greedy": solve_greedy,
    "cpsat": partial(solve_cpsat, time_limit_s=10, random_seed=1),
}


@pytest.fixture(params=sorted(SOLVERS))
def solve(request):
    def run(p: Problem):
        solution = SOLVERS[request.param](p)
        assert check_solution(p, solution) == []
        return solution

    return run


def test_dark_run_only_on_nights_with_low_moon_illumination(solve):
    # given a moon bright on nights 0-5 and dark on 6-9
    moon = np.array([0.9, 0.95, 1.0, 0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05])
    p = problem([vm("dark", 2, max_fli=0.4)], moon=moon)
    # when
    s = solve(p)
    # then
    assert all(moon[i] <= 0.4 for i in nights_of(s.vm_starts["dark"], 2))


def test_run_only_on_nights_its_instrument_is_mounted(solve):
    # given KMOS mounted on nights 5-7 only
    n = 10
    kmos = np.zeros(n, dtype=bool)
    kmos[5:8] = True
    tel = telescope(instruments={"FORS2": np.ones(n, dtype=bool), "KMOS": kmos})
    p = problem([vm("k", 3, instrument="KMOS")], telescopes=[tel])
    # when
    s = solve(p)
    # then
    assert nights_of(s.vm_starts["k"], 3) == [5, 6, 7]


def test_run_avoids_technical_closed_and_impossible_nights(solve):
    # given only nights 7 and 8 are neither technical, closed nor impossible for the run
    tel = telescope(technical=(0, 1, 2, 9), closed=(3, 4))
    run = vm("r", 2, impossible=days(5, 6))
    p = problem([run], telescopes=[tel])
    # when
    s = solve(p)
    # then
    assert nights_of(s.vm_starts["r"], 2) == [7, 8]


def test_run_needs_its_targets_visible_for_half_the_night(solve):
    # given targets visible 8 h except nights 0-6 (4.9 h of a 10 h night)
    visible = np.array([4.9] * 7 + [8.0] * 3)
    p = problem([vm("r", 1, visible=visible)])
    # when
    s = solve(p)
    # then
    assert nights_of(s.vm_starts["r"], 1)[0] >= 7


def test_half_night_run_needs_visibility_for_half_of_its_half_night(solve):
    # given 2.6 h of visibility: enough for a half night (2.5 h), not for a whole one (5 h)
    p = problem([vm("half", 0.5, visible=2.6), vm("whole", 1, visible=2.6)])
    # when
    s = solve(p)
    # then
    assert "half" in s.vm_starts
    assert "whole" not in s.vm_starts


def test_no_two_runs_share_a_half_night_but_two_half_night_runs_share_a_night(solve):
    # given three nights and runs asking for 1.5 + 1 + 0.5 nights
    n = 3
    runs = [vm("a", 1.5, n=n), vm("b", 1, n=n), vm("c", 0.5, n=n)]
    p = problem(runs, n=n, telescopes=[telescope(n=n)])
    # when
    s = solve(p)
    # then every run is scheduled and the six half-nights are used exactly once
    labels = [x for night in night_labels(p, s)["UT1"] for x in night]
    assert sorted(labels) == ["a", "a", "a", "b", "b", "c"]


def test_whole_night_runs_start_on_a_first_half(solve):
    # given a half-night run first in rank order, then a whole-night one
    p = problem(
        [vm("h", 0.5, n=4, rank_class="A"), vm("w", 2, n=4)], n=4, telescopes=[telescope(n=4)]
    )
    # when
    s = solve(p)
    # then
    assert s.vm_starts["w"] % 2 == 0


def test_runs_of_other_telescopes_do_not_interfere(solve):
    # given two telescopes and one good night on each
    n = 1
    tels = [telescope("UT1", n=n), telescope("UT2", n=n)]
    runs = [vm("a", 1, n=n, telescope="UT1"), vm("b", 1, n=n, telescope="UT2")]
    p = problem(runs, n=n, telescopes=tels)
    # when
    s = solve(p)
    # then
    assert s.vm_starts == {"a": 0, "b": 0}


def test_class_a_run_wins_over_a_longer_class_b_run(solve):
    # given four nights: a 1-night A run (grade 4.5) and a 4-night B run (grade 1.0) on them
    p = problem(
        [
            vm("A1", 1, n=4, rank_class="A", grade=4.5),
            vm("B4", 4, n=4, rank_class="B", grade=1.0),
        ],
        n=4,
        telescopes=[telescope(n=4)],
    )
    # when
    s = solve(p)
    # then
    assert "A1" in s.vm_starts
    assert "B4" not in s.vm_starts


def test_class_b_wins_over_class_c_and_better_grade_wins_within_a_class(solve):
    # given one night and three candidates
    runs = [
        vm("C", 1, rank_class="C", grade=1.0, n=1),
        vm("B-3.0", 1, rank_class="B", grade=3.0, n=1),
        vm("B-2.0", 1, rank_class="B", grade=2.0, n=1),
    ]
    p = problem(runs, n=1, telescopes=[telescope(n=1)])
    # when
    s = solve(p)
    # then
    assert list(s.vm_starts) == ["B-2.0"]


def test_preferred_dates_are_rewarded():
    # given a run that prefers nights 6-7 and could go anywhere
    p = problem([vm("r", 2, preferred=days(6, 7))])
    # when
    s = solve_cpsat(p, time_limit_s=10)
    # then
    assert nights_of(s.vm_starts["r"], 2) == [6, 7]
    assert s.info.status == "OPTIMAL"


def test_objective_is_class_and_grade_weighted_hours():
    # given a 2-night A run (grade 2.0, 10 h nights) and a 5 h C SM run (grade 3.0)
    p = problem([vm("v", 2, rank_class="A", grade=2.0), sm("s", 5.0, rank_class="C", grade=3.0)])
    # when
    s = solve_cpsat(p, time_limit_s=10)
    # then: weight per tenth of an hour = class weight x grade weight
    assert grade_weight(2.0) == 40 and grade_weight(3.0) == 30
    expected = CLASS_WEIGHT["A"] * 40 * 200 + CLASS_WEIGHT["C"] * 30 * 50
    assert vm_value(p, p.run("v")) == CLASS_WEIGHT["A"] * 40 * 200
    assert s.info.objective == expected == s.info.bound
    assert score(p, s.vm_starts, s.sm_served).weighted_hours == expected / 10


def test_sm_hours_only_on_nights_where_moon_and_targets_fit(solve):
    # given a dark-time SM run and 3 dark nights on which its targets are visible 5 h of 10
    moon = np.array([0.1, 0.1, 0.1] + [0.9] * 7)
    p = problem([sm("s", 20.0, max_fli=0.4, visible=5.0)], moon=moon)
    # when
    s = solve(p)
    # then 3 nights x 2 halves x 2.5 visible hours per half-night = 15 h at most
    assert s.sm_served["s"] == pytest.approx(15.0)


def test_sm_capacity_is_shared_by_runs_and_taken_by_vm():
    # given 2 nights, a 1-night C VM run and a B SM run wanting 20 h (all the time)
    n = 2
    p = problem(
        [vm("vmC", 1, n=n, rank_class="C"), sm("smB", 20.0, n=n, rank_class="B")],
        n=n,
        telescopes=[telescope(n=n)],
    )
    # when
    s = solve_cpsat(p, time_limit_s=10)
    # then the higher-class SM run gets every hour, the C VM run is left out
    assert s.vm_starts == {}
    assert s.sm_served["smB"] == pytest.approx(20.0)
    assert check_solution(p, s) == []


def test_problem_rejects_unknown_telescope_and_instrument():
    with pytest.raises(ProblemError, match="unknown telescope"):
        problem([vm("r", 1, telescope="UT9")])
    with pytest.raises(ProblemError, match="not an instrument of UT1"):
        problem([vm("r", 1, instrument="MUSE")])
    with pytest.raises(ProblemError, match="multiple of 0.5"):
        problem([vm("r", 0.3)])


def test_night_labels_show_runs_sm_technical_and_free():
    # given a technical night, a VM run and an SM run
    n = 4
    p = problem(
        [vm("v", 1, n=n, rank_class="A", preferred=days(1)), sm("s", 5.0, n=n)],
        n=n,
        telescopes=[telescope(n=n, technical=(0,))],
    )
    # when
    s = solve_cpsat(p, time_limit_s=10)
    labels = night_labels(p, s)["UT1"]
    # then
    assert labels[0] == ["TECH", "TECH"]
    assert labels[1] == ["v", "v"]
    assert sorted({x for night in labels[2:] for x in night} - {"FREE"}) == ["SM"]
    assert day(1) in p.run("v").preferred
