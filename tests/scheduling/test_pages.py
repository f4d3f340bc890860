"""The staff pages of the long-term schedule: a period's jobs and versions, a job's progress, a
version's calendar, accepting it, comparing two versions (SQLite, eager Celery)."""

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from dataflow.errors import TransitionNotAllowed
from scheduling import services
from scheduling.models import (
    CalendarNight,
    JobStatus,
    LeftOut,
    NightKind,
    Placement,
    RunPin,
    ScheduleJob,
    ScheduleVersion,
)
from tests.conftest import logged_in
from tests.scheduling.test_jobs import START, World, approved_period, start

TECHNICAL = START + dt.timedelta(days=10)


@pytest.fixture
def world(staff: User, astronomer: User) -> World:
    """The approved period of the job tests, with a technical night on UT1."""
    out = approved_period(staff, astronomer)
    CalendarNight.objects.create(
        telescope=out.vm.telescope, date=TECHNICAL, kind=NightKind.TECHNICAL, note="M1 recoating"
    )
    return out


@pytest.fixture
def solved(world: World, staff: User, django_capture_on_commit_callbacks: Any) -> ScheduleVersion:
    job = start(world, staff, django_capture_on_commit_callbacks)
    assert job.status == JobStatus.DONE, job.error
    return ScheduleVersion.objects.get(job=job)


def row_of(html: str, date: dt.date) -> str:
    """The calendar's row of one night."""
    found = re.search(rf'<tr id="night-{date.isoformat()}">(.*?)</tr>', html, re.S)
    assert found, f"no calendar row for {date}"
    return found.group(1)


def page_urls(version: ScheduleVersion) -> list[str]:
    assert version.job_id is not None
    return [
        reverse("schedule:home"),
        reverse("schedule:period", args=[version.period.number]),
        reverse("schedule:job", args=[version.job_id]),
        reverse("schedule:version", args=[version.pk]),
        reverse("schedule:compare", args=[version.pk, version.pk]),
    ]


def test_astronomers_are_refused_every_schedule_page(
    solved: ScheduleVersion, astronomer: User
) -> None:
    # given
    client = logged_in(astronomer)
    # when
    codes = [client.get(url).status_code for url in page_urls(solved)]
    # then
    assert codes == [403] * 5


def test_anonymous_visitors_are_sent_to_log_in(solved: ScheduleVersion) -> None:
    # when
    responses = [Client().get(url) for url in page_urls(solved)]
    # then
    assert all(r.status_code == 302 for r in responses)
    assert all(r.headers["Location"].startswith("/accounts/login/") for r in responses)


def test_the_schedule_link_leads_staff_to_the_period_with_approved_runs(
    solved: ScheduleVersion, staff: User
) -> None:
    # when
    response = logged_in(staff).get(reverse("schedule:home"))
    # then
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("schedule:period", args=[120])


def test_the_period_page_lists_the_job_and_the_version(
    solved: ScheduleVersion, staff: User
) -> None:
    # when
    response = logged_in(staff).get(reverse("schedule:period", args=[120]))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("schedule:job", args=[solved.job_id]) in html
    assert reverse("schedule:version", args=[solved.pk]) in html
    assert "No issue" in html


def test_the_period_page_names_the_run_of_a_pin_on_a_technical_night_before_any_solve(
    world: World, staff: User
) -> None:
    # given
    RunPin.objects.create(run=world.vm, start=TECHNICAL, by=staff)
    # when
    response = logged_in(staff).get(reverse("schedule:period", args=[120]))
    # then
    issues = re.search(r'data-testid="issues">(.*?)</section>', response.content.decode(), re.S)
    assert issues and str(world.vm) in issues.group(1)
    assert not ScheduleJob.objects.exists()


def test_starting_a_job_from_the_period_page_opens_the_job(
    world: World, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in(staff).post(
            reverse("schedule:job_start", args=[120]), {"solver": "greedy", "time_limit_s": 5}
        )
    # then
    job = ScheduleJob.objects.get()
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("schedule:job", args=[job.pk])
    assert job.status == JobStatus.DONE, job.error


def test_a_refused_start_shows_the_run_on_the_form_and_starts_nothing(
    world: World, staff: User
) -> None:
    # given
    RunPin.objects.create(run=world.vm, start=TECHNICAL, by=staff)
    # when
    response = logged_in(staff).post(
        reverse("schedule:job_start", args=[120]), {"solver": "cpsat", "time_limit_s": 5}
    )
    # then
    assert response.status_code == 200
    form = re.search(r'data-testid="start-form">(.*?)</form>', response.content.decode(), re.S)
    assert form and "inconsistent" in form.group(1) and str(world.vm) in form.group(1)
    assert not ScheduleJob.objects.exists()


def test_the_job_page_shows_a_full_progress_bar_and_the_version_once_done(
    solved: ScheduleVersion, staff: User
) -> None:
    # when
    response = logged_in(staff).get(reverse("schedule:job", args=[solved.job_id]))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    bar = re.search(r'<progress id="job-bar"[^>]*max="(\d+)" value="([\d.]+)"', html)
    assert bar and float(bar.group(2)) == float(bar.group(1)) == 5.0
    assert reverse("schedule:version", args=[solved.pk]) in html
    assert "/api/v1/schedule/jobs/" in html and "js/job-progress.js" in html
    assert 'data-testid="cancel-form"' not in html  # a finished job cannot be cancelled


def test_a_failed_job_shows_its_error(world: World, staff: User) -> None:
    # given
    job = ScheduleJob.objects.create(
        period=world.period, status=JobStatus.FAILED, error="ValueError: no nights"
    )
    # when
    response = logged_in(staff).get(reverse("schedule:job", args=[job.pk]))
    # then
    assert "ValueError: no nights" in response.content.decode()


def test_cancel_on_the_job_page_cancels_a_queued_job(world: World, staff: User) -> None:
    # given
    job = ScheduleJob.objects.create(period=world.period, solver="cpsat", created_by=staff)
    client = logged_in(staff)
    assert (
        'data-testid="cancel-form"'
        in client.get(reverse("schedule:job", args=[job.pk])).content.decode()
    )
    # when
    response = client.post(reverse("schedule:job_cancel", args=[job.pk]))
    # then
    job.refresh_from_db()
    assert response.status_code == 302
    assert job.status == JobStatus.CANCELLED and job.cancel_requested


def test_cancelling_a_finished_job_says_why_and_changes_nothing(
    solved: ScheduleVersion, staff: User
) -> None:
    # when
    response = logged_in(staff).post(
        reverse("schedule:job_cancel", args=[solved.job_id]), follow=True
    )
    # then
    assert "already done" in response.content.decode()
    assert ScheduleJob.objects.get(version=solved).status == JobStatus.DONE


def test_the_calendar_shows_the_vm_run_on_its_nights_and_the_technical_night(
    solved: ScheduleVersion, world: World, staff: User
) -> None:
    # given
    nights = list(
        Placement.objects.filter(version=solved, run=world.vm).values_list("date", flat=True)
    )
    assert len(nights) == 2
    # when
    html = logged_in(staff).get(reverse("schedule:version", args=[solved.pk])).content.decode()
    # then: the run by name on its nights only, the technical night marked, SM hours shaded
    for date in nights:
        assert f'<span class="vm-run">{world.vm}' in row_of(html, date)
    others = [START + dt.timedelta(days=i) for i in range(21)]
    assert sum(str(world.vm) in row_of(html, d) for d in others) == 2
    technical = row_of(html, TECHNICAL)
    assert "technical" in technical and "Technical" in technical
    assert "M1 recoating" in technical
    assert 'class="cell sm"' in html and "SM " in html
    moons = re.findall(r'data-testid="moon">([\d.]+)<', html)
    assert len(moons) == 21 and all(0.0 <= float(m) <= 1.0 for m in moons)


def test_the_version_page_shows_left_out_runs_and_the_statistics(
    solved: ScheduleVersion, world: World, staff: User
) -> None:
    # given
    LeftOut.objects.create(version=solved, run=world.sm, reason="never visible under its moon")
    # when
    html = logged_in(staff).get(reverse("schedule:version", args=[solved.pk])).content.decode()
    # then
    assert "never visible under its moon" in html
    stats = re.search(r'id="statistics">(.*?)</section>', html, re.S)
    assert stats and "<td>A</td>" in stats.group(1) and "5.0 h" in stats.group(1)


def test_accept_calls_the_version_accept_service(
    solved: ScheduleVersion, staff: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(services, "version_accept", lambda **kwargs: calls.append(kwargs))
    # when
    response = logged_in(staff).post(reverse("schedule:version_accept", args=[solved.pk]))
    # then
    assert response.status_code == 302
    assert calls == [{"version_id": solved.pk, "actor": staff}]


def test_a_refused_accept_is_shown_on_the_version_page(
    solved: ScheduleVersion, staff: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    def refuse(**kwargs: Any) -> None:
        raise TransitionNotAllowed("This version is already accepted.")

    monkeypatch.setattr(services, "version_accept", refuse)
    # when
    response = logged_in(staff).post(
        reverse("schedule:version_accept", args=[solved.pk]), follow=True
    )
    # then
    assert "This version is already accepted." in response.content.decode()


def test_accepting_on_the_page_marks_the_version_accepted(
    solved: ScheduleVersion, staff: User
) -> None:
    # when
    response = logged_in(staff).post(
        reverse("schedule:version_accept", args=[solved.pk]), follow=True
    )
    # then
    solved.refresh_from_db()
    assert solved.accepted_at is not None and solved.accepted_by == staff
    assert 'data-testid="accepted"' in response.content.decode()


def test_compare_lists_a_moved_run_and_a_run_scheduled_in_one_version_only(
    solved: ScheduleVersion,
    world: World,
    staff: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: a second version where the VM run moved 3 nights and the SM run was left out
    job = start(world, staff, django_capture_on_commit_callbacks)
    second = ScheduleVersion.objects.get(job=job)
    before = sorted(
        Placement.objects.filter(version=second, run=world.vm).values_list("date", flat=True)
    )
    for p in Placement.objects.filter(version=second, run=world.vm):
        p.date += dt.timedelta(days=3)
        p.save(update_fields=["date"])
    Placement.objects.filter(version=second, run=world.sm).delete()
    LeftOut.objects.create(version=second, run=world.sm, reason="no dark time left")
    # when
    response = logged_in(staff).get(reverse("schedule:compare", args=[solved.pk, second.pk]))
    # then
    html = response.content.decode()
    moved = re.search(r'id="moved">(.*?)</section>', html, re.S)
    assert moved and str(world.vm) in moved.group(1)
    after = [d + dt.timedelta(days=3) for d in before]
    assert ", ".join(map(str, before)) in moved.group(1)
    assert ", ".join(map(str, after)) in moved.group(1)
    only = re.search(r'id="only">(.*?)</section>', html, re.S)
    assert only and str(world.sm) in only.group(1) and "no dark time left" in only.group(1)
    assert "Class A scheduled / requested" in html
