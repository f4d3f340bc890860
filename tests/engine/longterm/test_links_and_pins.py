"""Links between runs and staff pins, including the conflicts they can create."""

from functools import partial

import numpy as np
import pytest

from scheduling.engine.longterm import pool
from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.cpmodel import Reporter, solve_part
from scheduling.engine.longterm.cpsat import solve_cpsat
from scheduling.engine.longterm.decompose import LEAF_CASE_LIMIT, Tabulated, split, tabulate
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.engine.longterm.problem import Link, Pin, ProblemError, ScheduleConflict
from tests.engine.longterm.builders import day, days, nights_of, problem, sm, telescope, vm

SOLVERS = {"greedy": solve_greedy, "cpsat": partial(solve_cpsat, time_limit_s=10)}


@pytest.fixture(params=sorted(SOLVERS))
def solve(request):
    return SOLVERS[request.param]


def test_same_nights_link_puts_both_runs_on_the_same_nights_of_two_telescopes(solve):
    # given UT1 busy on nights 0-1 with a better run, and UT2 technical on nights 4-5
    n = 8
    tels = [telescope("UT1", n=n), telescope("UT2", n=n, technical=(4, 5))]
    runs = [
        vm("busy", 2, n=n, rank_class="A", preferred=frozenset({day(0), day(1)})),
        vm("a", 2, n=n, telescope="UT1"),
        vm("b", 2, n=n, telescope="UT2"),
    ]
    p = problem(runs, n=n, telescopes=tels, links=(Link("a", "b", "same_nights"),))
    # when
    s = solve(p)
    # then
    assert check_solution(p, s) == []
    assert s.vm_starts["a"] == s.vm_starts["b"]
    assert not set(nights_of(s.vm_starts["a"], 2)) & {0, 1, 4, 5}


def test_apart_link_keeps_the_second_run_within_its_window(solve):
    # given the second epoch must come 5..6 nights after the first
    n = 12
    link = Link("first", "second", "apart", min_days=5, max_days=6)
    p = problem(
        [vm("first", 1, n=n), vm("second", 1, n=n)], n=n, telescopes=[telescope(n=n)], links=(link,)
    )
    # when
    s = solve(p)
    # then
    assert check_solution(p, s) == []
    assert 5 <= s.vm_starts["second"] // 2 - s.vm_starts["first"] // 2 <= 6


def test_unordered_apart_link_bounds_the_absolute_distance():
    # given the first run prefers the last night and the two must be at least 3 nights apart
    n = 6
    link = Link("a", "b", "apart", min_days=3, ordered=False)
    runs = [vm("a", 1, n=n, preferred=frozenset({day(5)})), vm("b", 1, n=n)]
    p = problem(runs, n=n, telescopes=[telescope(n=n)], links=(link,))
    # when
    s = solve_cpsat(p, time_limit_s=10)
    # then b may come first
    assert s.vm_starts["a"] == 10
    assert s.vm_starts["b"] // 2 <= 2


def test_linked_runs_are_scheduled_together_or_not_at_all(solve):
    # given the partner of a linked run can never be observed (moon too bright every night)
    n = 5
    tels = [telescope("UT1", n=n), telescope("UT2", n=n)]
    runs = [vm("a", 1, n=n), vm("b", 1, n=n, max_fli=0.2, telescope="UT2")]
    p = problem(
        runs,
        n=n,
        telescopes=tels,
        moon=np.full(n, 0.9),
        links=(Link("a", "b", "same_nights"),),
    )
    # when
    s = solve(p)
    # then
    assert s.vm_starts == {}
    assert check_solution(p, s) == []


def test_pinned_run_is_placed_where_staff_pinned_it(solve):
    # given a better-placed alternative (preferred night 0) that the pin overrides
    p = problem([vm("r", 2, preferred=frozenset({day(0)}))], pins=(Pin("r", day(6)),))
    # when
    s = solve(p)
    # then
    assert s.vm_starts["r"] == 12
    assert check_solution(p, s) == []


def test_pin_on_a_second_half():
    p = problem([vm("h", 0.5)], pins=(Pin("h", day(3), second_half=True),))
    s = solve_cpsat(p, time_limit_s=10)
    assert s.vm_starts == {"h": 7}


def test_pin_on_a_bright_night_is_a_clear_conflict(solve):
    # given a dark-time run pinned on full moon
    moon = np.linspace(0.0, 1.0, 10)
    p = problem([vm("dark", 1, max_fli=0.4)], moon=moon, pins=(Pin("dark", day(9)),))
    # when / then
    with pytest.raises(ScheduleConflict) as err:
        solve(p)
    message = str(err.value)
    assert "pin dark on 2026-04-10 is impossible" in message
    assert "moon FLI 1.00 > 0.40" in message


def test_pin_on_a_technical_night_names_the_night(solve):
    p = problem([vm("r", 2)], telescopes=[telescope(technical=(4,))], pins=(Pin("r", day(3)),))
    with pytest.raises(ScheduleConflict, match="2026-04-05 is a technical or closed night"):
        solve(p)


def test_overlapping_pins_name_both_runs(solve):
    p = problem([vm("a", 2), vm("b", 2)], pins=(Pin("a", day(2)), Pin("b", day(3))))
    with pytest.raises(ScheduleConflict, match=r"pin b on 2026-04-04 overlaps pin a on 2026-04-03"):
        solve(p)


def test_pins_that_break_a_link_name_the_link(solve):
    link = Link("a", "b", "apart", min_days=5, max_days=6)
    p = problem([vm("a", 1), vm("b", 1)], links=(link,), pins=(Pin("a", day(0)), Pin("b", day(2))))
    with pytest.raises(ScheduleConflict, match=r"break link b 5\.\.6 nights after a"):
        solve(p)


def test_pin_and_link_conflict_found_by_the_solver_names_both():
    # given a pinned run whose linked follow-up can only go 5..6 nights later, where the
    # moon is too bright for it: no placement of the follow-up fits
    moon = np.array([0.0] * 5 + [0.9, 0.9] + [0.0] * 3)
    link = Link("a", "b", "apart", min_days=5, max_days=6)
    p = problem(
        [vm("a", 1), vm("b", 1, max_fli=0.4)], moon=moon, links=(link,), pins=(Pin("a", day(0)),)
    )
    # when / then
    with pytest.raises(ScheduleConflict) as err:
        solve_cpsat(p, time_limit_s=10)
    message = str(err.value)
    assert "pin a on 2026-04-01" in message
    assert "link b 5..6 nights after a" in message


def test_pin_outside_the_period_or_of_an_sm_run_is_a_problem_error():
    with pytest.raises(ProblemError, match="outside the period"):
        problem([vm("r", 1)], pins=(Pin("r", day(40)),))
    with pytest.raises(ProblemError, match="not a VM run"):
        problem([vm("r", 1)], pins=(Pin("x", day(1)),))


def test_same_nights_link_on_one_telescope_is_a_problem_error():
    with pytest.raises(ProblemError, match="same telescope"):
        problem([vm("a", 1), vm("b", 1)], links=(Link("a", "b", "same_nights"),))


@pytest.mark.parametrize(
    ("linked_class", "rival_class", "linked_in"),
    [("A", "B", True), ("C", "A", False)],
)
def test_linked_pair_where_one_side_alone_would_leave_its_run_out(
    linked_class, rival_class, linked_in
):
    # given: on UT1 the linked run "a" fits anywhere; on UT2 its partner "b" and a rival
    # both fit only on nights 0-1, so UT2 alone keeps the better of the two
    n = 4
    tels = [telescope("UT1", n=n), telescope("UT2", n=n)]
    late = days(2, 3)
    runs = [
        vm("a", 2, n=n, rank_class=linked_class),
        vm("b", 2, n=n, telescope="UT2", rank_class="C", impossible=late),
        vm("rival", 2, n=n, telescope="UT2", rank_class=rival_class, impossible=late),
    ]
    p = problem(runs, n=n, telescopes=tels, links=(Link("a", "b", "same_nights"),))
    # when
    s = solve_cpsat(p, time_limit_s=10)
    # then the pair goes in (with the rival out) exactly when "a" is worth more than the rival
    assert check_solution(p, s) == []
    assert s.info.status == "OPTIMAL"
    if linked_in:
        assert s.vm_starts == {"a": 0, "b": 0}
    else:
        assert set(s.vm_starts) == {"rival"}


def _pair_problem(pair_class: str):
    """UT1 and UT2 tied by a 2-night same-nights pair that can only start on night 2 (UT2
    is technical on nights 0-1 and 4-7), a 4-night run on UT1 that wants nights 0-3."""
    n = 8
    tels = [telescope("UT1", n=n), telescope("UT2", n=n, technical=(0, 1, 4, 5, 6, 7))]
    runs = [
        vm("long", 4, n=n, rank_class="B", impossible=days(4, 5, 6, 7)),
        vm("a", 2, n=n, telescope="UT1", rank_class=pair_class, impossible=days(0, 1)),
        vm("b", 2, n=n, telescope="UT2", rank_class=pair_class),
        vm("c", 1, n=n, telescope="UT1"),
    ]
    return problem(runs, n=n, telescopes=tels, links=(Link("a", "b", "same_nights"),))


@pytest.mark.parametrize(("pair_class", "pair_placed"), [("A", True), ("C", False)])
def test_a_same_nights_pair_with_one_common_start_is_tabulated(pair_class, pair_placed):
    # given two telescopes tied only by a pair with a single common start, in conflict with
    # a B run on UT1: an A pair wins over it, a C pair loses
    p = _pair_problem(pair_class)
    # when
    s = solve_cpsat(p, time_limit_s=10)
    # then: UT2 (the leaf) is solved with the pair on its start and without it, UT1 once
    assert check_solution(p, s) == []
    cases = sorted(x["case"] for x in s.info.parts)
    assert [c.split(": ")[1] for c in cases] == [
        "center",
        "leaf, pair left out",
        "leaf, pair on slot 4",
    ]
    assert s.info.status == "OPTIMAL"
    assert ("a" in s.vm_starts) is pair_placed
    assert ("b" in s.vm_starts) is pair_placed
    assert ("long" in s.vm_starts) is not pair_placed
    assert s.info.objective >= solve_greedy(p).info.objective


def _chain_problem(seed: int, middle_runs: int = 6, with_sm: bool = True):
    """UT1 - UT2 - UT3 chained by two same-nights pairs with several common starts each,
    busy telescopes (random VM runs, ``middle_runs`` on UT2 and 6 on the others, and an SM run
    each if ``with_sm``) so that where the pairs go matters."""
    rng = np.random.default_rng(seed)
    n = 14
    names = ("UT1", "UT2", "UT3")
    tels = [telescope(t, n=n, technical=(13,)) for t in names]
    runs = []
    for t in names:
        for k in range(middle_runs if t == "UT2" else 6):
            runs.append(
                vm(
                    f"{t}-{k}",
                    float(rng.choice([0.5, 1.0, 2.0, 3.0])),
                    n=n,
                    telescope=t,
                    rank_class=str(rng.choice(["A", "B", "C"])),
                    grade=float(rng.uniform(1, 4)),
                    visible=rng.uniform(2, 10, n),
                    preferred=days(*rng.choice(n, 2, replace=False).tolist()),
                    impossible=days(*rng.choice(n, 4, replace=False).tolist()),
                )
            )
        if with_sm:
            runs.append(sm(f"{t}-sm", 12.0, n=n, telescope=t, visible=rng.uniform(0, 10, n)))
    pair = partial(vm, rank_class="A", grade=1.5, n=n)
    runs += [
        pair("a", 2, telescope="UT1", impossible=days(0, 1, 2, 3)),
        pair("b", 2, telescope="UT2", impossible=days(9, 10, 11, 12, 13)),
        pair("c", 1, telescope="UT2", impossible=days(0, 1, 2, 3, 4, 5)),
        pair("d", 1, telescope="UT3"),
    ]
    links = (Link("a", "b", "same_nights"), Link("c", "d", "same_nights"))
    return problem(runs, n=n, telescopes=tels, links=links)


@pytest.mark.parametrize(
    ("seed", "middle_runs", "with_sm"),
    [(0, 6, True), (1, 6, False), (2, 2, True), (3, 2, False)],
)
def test_a_tabulated_chain_reaches_the_joint_models_optimum(seed, middle_runs, with_sm):
    # given three telescopes chained by two pairs, each with several common starts
    p = _chain_problem(seed, middle_runs, with_sm)
    (part,) = split(p)
    plan = tabulate(part)
    assert isinstance(plan, Tabulated) and 2 < len(plan.leaves) <= LEAF_CASE_LIMIT
    # (busy ends: both are leaves, UT2 the root with two tables; a quiet middle: one end is
    # a leaf, then UT2 is, each of its cases with the first leaf's table, the other end the
    # root)
    jobs, roots = pool.plan([part])
    root = [t.name for t in jobs[roots[0]].problem.telescopes]
    nested = {t.name for j in jobs if j.leaf and j.tables for t in j.problem.telescopes}
    if middle_runs == 6:
        assert (root, nested) == (["UT2"], set())
    else:
        assert root in (["UT1"], ["UT3"]) and nested == {"UT2"}
    # when solved tabulated, and as one joint model
    s = solve_cpsat(p, time_limit_s=30)
    joint = solve_part(
        p, None, Reporter(None, 0, 10**18), time_limit_s=30, num_workers=2, random_seed=0
    )
    # then both are proven and agree on the optimum; the schedule holds every constraint
    assert joint.status == "OPTIMAL" and s.info.status == "OPTIMAL"
    assert s.info.cpsat_objective == joint.objective
    assert check_solution(p, s) == []
    assert s.vm_starts.get("a") == s.vm_starts.get("b")
    assert s.vm_starts.get("c") == s.vm_starts.get("d")
    if not with_sm:  # the schedule put together from the cases is worth the optimum itself
        assert (s.info.objective, s.info.improvement) == (joint.objective, 0)


def test_a_same_nights_pair_without_common_start_ties_nothing():
    # given a pair whose runs can never start together (UT2 technical where UT1 can start)
    n = 6
    tels = [telescope("UT1", n=n), telescope("UT2", n=n, technical=(3, 4, 5))]
    runs = [
        vm("a", 2, n=n, telescope="UT1", impossible=days(0, 1, 2)),
        vm("b", 2, n=n, telescope="UT2"),
        vm("c", 1, n=n, telescope="UT2"),
    ]
    p = problem(runs, n=n, telescopes=tels, links=(Link("a", "b", "same_nights"),))
    # when
    parts = split(p)
    s = solve_cpsat(p, time_limit_s=10)
    # then: the telescopes are solved apart and neither run of the pair is scheduled
    assert [len(q.telescopes) for q in parts] == [1, 1]
    assert check_solution(p, s) == []
    assert s.info.status == "OPTIMAL"
    assert not {"a", "b"} & set(s.vm_starts)
    assert "c" in s.vm_starts
