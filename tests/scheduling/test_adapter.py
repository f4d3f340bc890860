"""The adapter: approved runs and the observatory calendar become the long-term scheduler's
Problem; inconsistent input is named before any solve; a round trip through greedy checks."""

import datetime as dt

import numpy as np
from django.contrib.auth.models import User
from django.utils import timezone

from dataflow.accounts.models import Role
from proposals import services as p1
from proposals.models import ObservingRun, Period, Proposal
from proposals.review import services as rv
from scheduling.adapter import check_period_problem, problem_for_period
from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.models import CalendarNight, InstrumentMount, NightKind, RunLink, RunPin
from tests.factories import (
    InstrumentFactory,
    ProposalFactory,
    RunFactory,
    TargetFactory,
    TelescopeFactory,
    UserFactory,
)


def _staff() -> User:
    return UserFactory.create(username="opc", roles=[Role.STAFF])


def _run(
    period: Period,
    *,
    mode: str = "SM",
    telescope: str = "UT1",
    ra_deg: float = 0.0,
    dec_deg: float = -89.0,
    max_airmass: float = 3.0,
) -> ObservingRun:
    """A submitted proposal with one run (SM 4 h or VM 2 nights) on one target; by default
    one by the south celestial pole, at airmass < 2.6 from Paranal all of every night."""
    pi = UserFactory.create()
    proposal = ProposalFactory.create(pi=pi, period=period)
    target = TargetFactory.create(proposal=proposal, ra_deg=ra_deg, dec_deg=dec_deg)
    tel = TelescopeFactory.create(name=telescope)
    vm = mode == "VM"
    run = RunFactory.create(
        proposal=proposal,
        telescope=tel,
        instrument=InstrumentFactory.create(telescope=tel),
        mode=mode,
        hours=None if vm else 4.0,
        nights=2.0 if vm else None,
        max_airmass=max_airmass,
        targets=[target],
    )
    p1.proposal_submit(proposal_id=proposal.pk, actor=pi, queue_final_pdf=False)
    return ObservingRun.objects.select_related("proposal").get(pk=run.pk)


def _midnight_ra(period: Period) -> float:
    """RA on the meridian at midnight at the period's end: visible at night late in the period
    only (the Sun's RA grows ~0.99 deg a day from 0 at the March equinox)."""
    equinox = dt.date(period.end.year, 3, 20)
    return (180.0 + 0.9856 * (period.end - equinox).days) % 360.0


def _approve_vm(run: ObservingRun, staff: User, nights: float = 2) -> None:
    rv.run_decide(run_id=run.pk, actor=staff, approved=True, nights=nights)


def test_approved_runs_become_engine_runs_and_rejected_ones_stay_out(period: Period) -> None:
    # given an SM run, a VM run and a rejected run under review, the SM proposal graded 1.5 by
    # its panel's chair
    staff = _staff()
    sm, vm, rejected = _run(period), _run(period, mode="VM", telescope="UT2"), _run(period)
    reviewers = [
        UserFactory.create(username=f"r{i}", roles=[Role.REVIEWER], institute="Leiden")
        for i in range(3)
    ]
    rv.review_start(period_id=period.pk, actor=staff)
    panel = rv.panel_create(
        period_id=period.pk,
        name="Panel C",
        category="C",
        deadline=timezone.now() + dt.timedelta(days=14),
        actor=staff,
    )
    for reviewer in reviewers:
        rv.panel_member_add(panel_id=panel.pk, user_id=reviewer.pk, actor=staff)
    rv.assignments_solve(period_id=period.pk, actor=staff, time_limit_s=5)
    rv.panel_grade_set(proposal_id=sm.proposal_id, grade=1.5, actor=staff)
    rv.run_decide(run_id=sm.pk, actor=staff, approved=True, rank_class="B", hours=2.5)
    _approve_vm(vm, staff, nights=3)
    rv.run_decide(run_id=rejected.pk, actor=staff, approved=False)
    # when
    pp = problem_for_period(period)
    # then the approved runs are there, with ledger hours, rank class and grade
    runs = {r.id: r for r in pp.problem.runs}
    assert set(runs) == {str(sm), str(vm)} == set(pp.runs)
    assert pp.runs[str(sm)].pk == sm.pk
    engine_sm, engine_vm = runs[str(sm)], runs[str(vm)]
    assert (engine_sm.mode, engine_sm.hours, engine_sm.rank_class) == ("SM", 2.5, "B")
    assert engine_sm.grade == 1.5
    assert (engine_vm.mode, engine_vm.nights, engine_vm.rank_class) == ("VM", 3.0, "A")
    assert engine_vm.grade == 3.0  # ungraded
    assert (engine_sm.telescope, engine_vm.telescope) == ("UT1", "UT2")
    # the target by the pole is visible all of every night
    assert np.allclose(engine_sm.visible_hours, pp.problem.dark_hours, atol=0.05)
    assert pp.problem.dates[0] == period.start and pp.problem.dates[-1] == period.end
    assert check_period_problem(pp) == []


def test_calendar_nights_and_instrument_mounts_reach_the_problem(period: Period) -> None:
    # given a technical night on UT1, closed nights on UT2, FORS2 on UT1 mounted for 21 nights
    # and KMOS on UT1 without mount rows
    ut1 = TelescopeFactory.create(name="UT1")
    ut2 = TelescopeFactory.create(name="UT2")
    fors2 = InstrumentFactory.create(telescope=ut1, name="FORS2")
    InstrumentFactory.create(telescope=ut1, name="KMOS")
    InstrumentFactory.create(telescope=ut2, name="UVES")
    day = period.start + dt.timedelta(days=5)
    CalendarNight.objects.create(telescope=ut1, date=day, kind=NightKind.TECHNICAL)
    closed = {period.start + dt.timedelta(days=i) for i in (10, 11, 12)}
    for night in closed:
        CalendarNight.objects.create(telescope=ut2, date=night, kind=NightKind.CLOSED)
    InstrumentMount.objects.create(
        instrument=fors2,
        start=period.start + dt.timedelta(days=20),
        end=period.start + dt.timedelta(days=40),
    )
    # when
    problem = problem_for_period(period).problem
    # then
    t1, t2 = problem.telescope("UT1"), problem.telescope("UT2")
    assert t1.technical == {day} and t1.closed == frozenset()
    assert t2.closed == closed and t2.technical == frozenset()
    assert list(np.flatnonzero(t1.mounted["FORS2"])) == list(range(20, 41))
    assert t1.mounted["KMOS"].all() and t2.mounted["UVES"].all()
    assert problem.unavailable("UT1")[5] and not problem.unavailable("UT1")[6]


def test_a_pin_on_a_technical_night_is_refused_naming_the_run(period: Period) -> None:
    # given an approved VM run pinned by staff on a technical night
    staff = _staff()
    run = _run(period, mode="VM")
    rv.review_start(period_id=period.pk, actor=staff)
    _approve_vm(run, staff)
    day = period.start + dt.timedelta(days=30)
    CalendarNight.objects.create(telescope=run.telescope, date=day, kind=NightKind.TECHNICAL)
    RunPin.objects.create(run=run, start=day, by=staff)
    # when
    messages = check_period_problem(problem_for_period(period))
    # then one message names the run, the night and why
    assert len(messages) == 1
    assert str(run) in messages[0] and day.isoformat() in messages[0]
    assert "technical or closed night on UT1" in messages[0]


def test_a_pin_outside_the_period_or_on_an_sm_run_is_named(period: Period) -> None:
    # given a VM run pinned after the period ends and an SM run pinned
    staff = _staff()
    vm, sm = _run(period, mode="VM"), _run(period)
    rv.review_start(period_id=period.pk, actor=staff)
    _approve_vm(vm, staff)
    rv.run_decide(run_id=sm.pk, actor=staff, approved=True, rank_class="A", hours=2)
    RunPin.objects.create(run=vm, start=period.end + dt.timedelta(days=3))
    RunPin.objects.create(run=sm, start=period.start)
    # when
    pp = problem_for_period(period)
    messages = check_period_problem(pp)
    # then both are named, and neither reaches the engine
    assert pp.problem.pins == ()
    assert any(str(vm) in m and "outside the period" in m for m in messages)
    assert any(str(sm) in m and "not an approved visitor-mode run" in m for m in messages)


def test_a_link_between_runs_that_cannot_both_fit_is_named(period: Period) -> None:
    # given two approved VM runs linked to share their nights, UT1 closed for the first half of
    # the period and UT2 for the second: each fits alone, never together
    staff = _staff()
    first, second = _run(period, mode="VM"), _run(period, mode="VM", telescope="UT2")
    rv.review_start(period_id=period.pk, actor=staff)
    _approve_vm(first, staff)
    _approve_vm(second, staff)
    n = (period.end - period.start).days + 1
    for i in range(n):
        telescope = first.telescope if i < n // 2 else second.telescope
        night = period.start + dt.timedelta(days=i)
        CalendarNight.objects.create(telescope=telescope, date=night, kind=NightKind.CLOSED)
    RunLink.objects.create(first=first, second=second, kind="same_nights")
    # when
    messages = check_period_problem(problem_for_period(period))
    # then
    assert len(messages) == 1
    assert str(first) in messages[0] and str(second) in messages[0]
    assert "cannot both fit" in messages[0]


def test_round_trip_greedy_schedule_checks_and_vm_nights_are_usable(period: Period) -> None:
    # given an SM run, and a VM run on a target visible only part of the period with technical
    # nights every fifth night of its telescope
    staff = _staff()
    sm = _run(period)
    vm = _run(
        period,
        mode="VM",
        telescope="UT2",
        ra_deg=_midnight_ra(period),
        dec_deg=-30.0,
        max_airmass=1.5,
    )
    rv.review_start(period_id=period.pk, actor=staff)
    rv.run_decide(run_id=sm.pk, actor=staff, approved=True, rank_class="A", hours=3)
    _approve_vm(vm, staff)
    n = (period.end - period.start).days + 1
    technical = {period.start + dt.timedelta(days=i) for i in range(0, n, 5)}
    for night in technical:
        CalendarNight.objects.create(telescope=vm.telescope, date=night, kind=NightKind.TECHNICAL)
    pp = problem_for_period(period)
    assert check_period_problem(pp) == []
    # when
    solution = solve_greedy(pp.problem)
    # then the schedule checks; the VM run has two nights, visible and not technical
    problem = pp.problem
    assert check_solution(problem, solution) == []
    run = problem.run(str(vm))
    assert (run.visible_hours < 0.5 * problem.dark_hours).any()  # the test can fail
    start = solution.vm_starts[str(vm)]
    nights = [problem.dates[s // 2] for s in range(start, start + run.slots)]
    assert len(set(nights)) == 2
    for night in set(nights):
        i = problem.night_index(night)
        assert night not in technical
        assert run.visible_hours[i] >= 0.5 * problem.dark_hours[i]
    assert solution.sm_served[str(sm)] > 0


def test_no_approved_runs_give_an_empty_problem(period: Period) -> None:
    # given a telescope but no proposal
    TelescopeFactory.create(name="UT1")
    # when
    pp = problem_for_period(period)
    # then
    assert pp.problem.runs == () and pp.runs == {} and check_period_problem(pp) == []
    assert isinstance(Proposal.objects.count(), int)
