"""Schedule jobs: staff start a solve of a period, its progress is recorded, the result is
stored as a version (placements and runs left out), jobs of a period never overlap, a job can
be cancelled (SQLite, eager Celery: the task runs when the job's transaction commits)."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from dataflow.errors import InvalidInput, NotAllowed, TransitionNotAllowed
from proposals.models import ObservingRun, Period, ProposalStatus
from proposals.review.services import run_decide
from scheduling import adapter, services
from scheduling.engine.longterm.checker import check_solution
from scheduling.engine.longterm.greedy import solve_greedy
from scheduling.engine.longterm.solution import Reservation, Solution, SolveInfo
from scheduling.models import (
    CalendarNight,
    JobProgress,
    JobStatus,
    NightKind,
    Placement,
    RunPin,
    ScheduleJob,
    ScheduleVersion,
)
from scheduling.tasks import solve_schedule
from tests.conftest import bearer_client
from tests.factories import PeriodFactory, ProposalFactory, RunFactory, TargetFactory

START = (timezone.now() + dt.timedelta(days=120)).date()
NIGHTS = 21


class World:
    def __init__(self, period: Period, vm: ObservingRun, sm: ObservingRun) -> None:
        self.period, self.vm, self.sm = period, vm, sm


def approved_period(staff: User, pi: User, nights: int = NIGHTS, extra_runs: int = 0) -> World:
    """A period of ``nights`` nights with an approved proposal: a 2-night VM run and a 5 h SM
    run of class A on UT1 (a target by the south celestial pole: visible all of every night),
    and ``extra_runs`` more approved proposals of one VM run (1 or 2 nights) each on targets
    spread in RA, so that a solve has choices to make."""
    period = PeriodFactory.create(
        number=120, start=START, end=START + dt.timedelta(days=nights - 1)
    )
    vm, sm = _approved(staff, period, pi, 1, [("VM", 2.0, 0.0, -89.0), ("SM", 5.0, 0.0, -89.0)])
    for i in range(extra_runs):
        ra = 360.0 * i / max(extra_runs, 1)
        _approved(staff, period, pi, 2 + i, [("VM", 1.0 + i % 2, ra, -89.0)])
    return World(period, vm, sm)


def _approved(
    staff: User, period: Period, pi: User, number: int, runs: list[tuple[str, float, float, float]]
) -> list[ObservingRun]:
    proposal = ProposalFactory.create(period=period, pi=pi)
    out = []
    for letter, (mode, amount, ra, dec) in zip("ABCD", runs, strict=False):
        target = TargetFactory.create(proposal=proposal, ra_deg=ra, dec_deg=dec)
        vm = mode == "VM"
        out.append(
            RunFactory.create(
                proposal=proposal,
                letter=letter,
                mode=mode,
                nights=amount if vm else None,
                hours=None if vm else amount,
                max_airmass=3.0,
                targets=[target],
            )
        )
    type(proposal).objects.filter(pk=proposal.pk).update(
        status=ProposalStatus.UNDER_REVIEW,
        programme_number=number,
        programme_id=f"120.C-{number:04d}",
    )
    for run in out:
        if run.mode == "VM":
            nights = float(run.nights or 0)
            run_decide(run_id=run.pk, actor=staff, approved=True, nights=nights, send_outcome=False)
        else:
            hours = float(run.hours or 0)
            run_decide(
                run_id=run.pk,
                actor=staff,
                approved=True,
                rank_class="A",
                hours=hours,
                send_outcome=False,
            )
    found = ObservingRun.objects.select_related("proposal", "telescope")
    return [found.get(pk=r.pk) for r in out]


def rebuilt_solution(version: ScheduleVersion, pp: adapter.PeriodProblem) -> Solution:
    """A stored version as an engine solution: VM starts and SM hours per night from its
    placements, the group reservations from its statistics."""
    run_ids = {obs.pk: rid for rid, obs in pp.runs.items()}
    starts: dict[str, int] = {}
    sm_nights: dict[str, dict[int, float]] = {}
    for p in version.placements.order_by("date").select_related("run"):
        rid = run_ids[p.run_id]
        night = pp.problem.night_index(p.date)
        if pp.problem.run(rid).mode == "SM":
            sm_nights.setdefault(rid, {})[night] = p.hours
        elif rid not in starts:
            starts[rid] = 2 * night + (0 if p.first_half else 1)
    stats = version.statistics
    info = SolveInfo(version.solver, version.status, int(version.objective), None, 0.0)
    reservations = tuple(Reservation(**r) for r in stats["reservations"])
    served = {rid: sum(n.values()) for rid, n in sm_nights.items()}
    return Solution(starts, served, reservations, info, sm_nights)


@pytest.fixture
def world(staff: User, astronomer: User) -> World:
    return approved_period(staff, astronomer)


def start(world: World, actor: User, captured: Any, **kwargs: Any) -> ScheduleJob:
    """Start a job and run its task as the commit would (eager Celery)."""
    args = {"solver": "greedy", "time_limit_s": 5, **kwargs}
    with captured(execute=True):
        job = services.job_start(period_id=world.period.pk, actor=actor, **args)
    job.refresh_from_db()
    return job


def test_a_job_stores_a_version_whose_placements_round_trip(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    pp = adapter.problem_for_period(world.period)
    expected = solve_greedy(pp.problem)
    # when
    job = start(world, staff, django_capture_on_commit_callbacks)
    # then: the VM run's nights and the SM run's hours are those of the solution
    assert job.status == JobStatus.DONE, job.error
    version = ScheduleVersion.objects.get(job=job)
    assert version.number == 1 and version.period == world.period
    vm_rows = list(Placement.objects.filter(version=version, run=world.vm).order_by("date"))
    first = pp.problem.night_index(vm_rows[0].date)
    vm_id = str(world.vm)
    assert expected.vm_starts[vm_id] == 2 * first + (0 if vm_rows[0].first_half else 1)
    assert [r.date for r in vm_rows] == list(pp.problem.dates[first : first + 2])
    assert all(r.first_half and r.second_half for r in vm_rows)
    assert vm_rows[0].hours == pytest.approx(float(pp.problem.dark_hours[first]), abs=1e-3)
    sm_hours = sum(p.hours for p in Placement.objects.filter(version=version, run=world.sm))
    assert sm_hours == pytest.approx(expected.sm_served[str(world.sm)], abs=0.01)
    assert sm_hours == pytest.approx(5.0, abs=0.01)
    assert version.objective == expected.info.objective
    stats = version.statistics
    assert stats["by_class"]["A"]["sm_requested"] == pytest.approx(5.0)
    assert stats["by_class"]["A"]["scheduled"] == pytest.approx(stats["by_class"]["A"]["requested"])
    assert len(stats["by_ra_bin"]) == pp.problem.ra_bins
    assert check_solution(pp.problem, rebuilt_solution(version, pp)) == []


def test_a_second_version_of_a_period_gets_the_next_number(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    start(world, staff, django_capture_on_commit_callbacks)
    # when
    job = start(world, staff, django_capture_on_commit_callbacks)
    # then
    assert ScheduleVersion.objects.get(job=job).number == 2


def test_a_cpsat_job_records_its_progress(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # when
    job = start(world, staff, django_capture_on_commit_callbacks, solver="cpsat", time_limit_s=5)
    # then: progress rows, the last one the stored version's objective
    assert job.status == JobStatus.DONE, job.error
    rows = list(JobProgress.objects.filter(job=job))
    assert rows
    assert rows[-1].objective == ScheduleVersion.objects.get(job=job).objective
    assert all(r.bound is not None and r.bound >= r.objective for r in rows if r.objective)


def test_a_left_out_run_is_stored_with_its_reason(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given: UT1 closed for the whole period but one night: the 2-night VM run fits nowhere
    for i in range(1, NIGHTS):
        CalendarNight.objects.create(
            telescope=world.vm.telescope,
            date=START + dt.timedelta(days=i),
            kind=NightKind.CLOSED,
        )
    monkey = pytest.MonkeyPatch()
    monkey.setattr(adapter, "check_period_problem", lambda pp: [])  # it would refuse the run
    try:
        # when
        job = start(world, staff, django_capture_on_commit_callbacks)
    finally:
        monkey.undo()
    # then
    assert job.status == JobStatus.DONE, job.error
    left = ScheduleVersion.objects.get(job=job).left_out.get(run=world.vm)
    assert left.reason


def test_a_second_job_of_a_period_while_one_is_active_is_refused_and_writes_nothing(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    ScheduleJob.objects.create(period=world.period, status=JobStatus.RUNNING)
    # when
    with pytest.raises(TransitionNotAllowed), django_capture_on_commit_callbacks() as queued:
        services.job_start(period_id=world.period.pk, actor=staff, solver="greedy", time_limit_s=5)
    # then
    assert ScheduleJob.objects.count() == 1
    assert not queued


def test_the_database_refuses_a_second_active_job_that_slips_past_the_check(
    world: World, staff: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the check raced (both requests saw no active job)
    ScheduleJob.objects.create(period=world.period, status=JobStatus.QUEUED)
    monkeypatch.setattr(services, "_refuse_if_active", lambda period_id: None)
    # when / then
    with pytest.raises(TransitionNotAllowed):
        services.job_start(period_id=world.period.pk, actor=staff, solver="greedy", time_limit_s=5)
    assert ScheduleJob.objects.count() == 1


def test_a_second_job_is_refused_with_409_by_the_api(world: World, staff: User) -> None:
    # given
    ScheduleJob.objects.create(period=world.period, status=JobStatus.QUEUED)
    # when
    response = bearer_client(staff).post(
        f"/api/v1/schedule/periods/{world.period.number}/jobs/",
        {"solver": "greedy", "time_limit_s": 5},
        format="json",
    )
    # then
    assert response.status_code == 409
    assert ScheduleJob.objects.count() == 1


def test_a_queued_job_is_cancelled_at_once_and_its_task_leaves_it_alone(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a queued job whose task has not run yet
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job = services.job_start(
            period_id=world.period.pk, actor=staff, solver="greedy", time_limit_s=5
        )
    # when
    services.job_cancel(job_id=job.pk, actor=staff)
    for callback in queued:
        callback()  # the task runs late
    # then
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.cancel_requested
    assert not ScheduleVersion.objects.exists()


def test_a_running_job_cancelled_stores_no_version(
    world: World,
    staff: User,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: staff cancel while the solve is running (at its first progress report)
    job = ScheduleJob.objects.create(period=world.period, solver="greedy", created_by=staff)
    record = services._record

    def cancel_then_record(job_id: int, p: Any) -> None:
        services.job_cancel(job_id=job_id, actor=staff)
        record(job_id, p)

    monkeypatch.setattr(services, "_record", cancel_then_record)
    # when
    solve_schedule.delay(job.pk)
    # then
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert not ScheduleVersion.objects.exists()


def test_cancelling_a_finished_job_is_refused(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    job = start(world, staff, django_capture_on_commit_callbacks)
    # when / then
    with pytest.raises(TransitionNotAllowed):
        services.job_cancel(job_id=job.pk, actor=staff)


def test_a_finished_job_is_left_alone_by_its_task(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    job = start(world, staff, django_capture_on_commit_callbacks)
    # when: the message is delivered again
    solve_schedule.delay(job.pk)
    # then
    assert ScheduleVersion.objects.count() == 1
    assert ScheduleJob.objects.get(pk=job.pk).status == JobStatus.DONE


def test_a_schedule_that_fails_its_check_fails_the_job(
    world: World,
    staff: User,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given
    monkeypatch.setattr(services, "check_solution", lambda problem, solution: ["X overlaps Y"])
    # when
    job = start(world, staff, django_capture_on_commit_callbacks)
    # then
    assert job.status == JobStatus.FAILED
    assert "X overlaps Y" in job.error
    assert not ScheduleVersion.objects.exists()


def test_a_non_staff_actor_is_refused(world: World, astronomer: User) -> None:
    # when / then
    with pytest.raises(NotAllowed):
        services.job_start(
            period_id=world.period.pk, actor=astronomer, solver="greedy", time_limit_s=5
        )
    assert not ScheduleJob.objects.exists()


def test_a_pin_on_a_technical_night_is_refused_naming_the_run_before_any_job_exists(
    world: World, staff: User
) -> None:
    # given
    night = START + dt.timedelta(days=5)
    CalendarNight.objects.create(telescope=world.vm.telescope, date=night, kind=NightKind.TECHNICAL)
    RunPin.objects.create(run=world.vm, start=night, by=staff)
    # when
    with pytest.raises(InvalidInput) as refused:
        services.job_start(period_id=world.period.pk, actor=staff, solver="greedy", time_limit_s=5)
    # then
    assert "120.C-0001(A)" in " ".join(refused.value.all_messages())
    assert not ScheduleJob.objects.exists()


def test_staff_follow_a_job_and_read_its_version_through_the_api(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    client = bearer_client(staff)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            f"/api/v1/schedule/periods/{world.period.number}/jobs/",
            {"solver": "greedy", "time_limit_s": 5},
            format="json",
        )
    assert started.status_code == 201, started.json()
    job_id = started.json()["id"]
    # when
    job = client.get(f"/api/v1/schedule/jobs/{job_id}/").json()
    versions = client.get(f"/api/v1/schedule/periods/{world.period.number}/versions/").json()
    version = client.get(f"/api/v1/schedule/versions/{job['version']}/").json()
    cancel = client.post(f"/api/v1/schedule/jobs/{job_id}/cancel/")
    # then
    assert job["status"] == "done" and job["progress"]
    assert [v["id"] for v in versions] == [job["version"]]
    vm_rows = [p for p in version["placements"] if p["run"]["name"] == "120.C-0001(A)"]
    assert len(vm_rows) == 2 and all(p["first_half"] and p["second_half"] for p in vm_rows)
    assert version["statistics"]["by_class"]["A"]["requested"] > 0
    assert cancel.status_code == 409


def test_non_staff_are_refused_by_the_api(world: World, astronomer: User) -> None:
    # when
    response = bearer_client(astronomer).post(
        f"/api/v1/schedule/periods/{world.period.number}/jobs/",
        {"solver": "greedy"},
        format="json",
    )
    # then
    assert response.status_code == 403
    assert not ScheduleJob.objects.exists()
