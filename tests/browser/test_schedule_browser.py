"""The long-term schedule in a real browser (issue 10): staff start a CP-SAT solve of a period,
follow its job page, open the version's calendar and accept it."""

import datetime as dt
import re

import pytest

from dataflow.accounts.models import Role
from proposals.models import Period
from scheduling.models import ScheduleVersion
from tests.factories import UserFactory
from tests.scheduling.test_jobs import approved_period

pytestmark = [pytest.mark.browser]


@pytest.fixture
def approved(transactional_db) -> Period:  # type: ignore[no-untyped-def]
    """Period 120 with an approved proposal: a 2-night VM run and a 5 h SM run on UT1, and
    two more one- or two-night VM runs; staff member sam."""
    sam = UserFactory.create(username="sam", roles=[Role.STAFF])
    ada = UserFactory.create(username="ada")
    return approved_period(sam, ada, extra_runs=2).period


def test_staff_solve_a_period_watch_the_job_and_accept_the_calendar(  # type: ignore[no-untyped-def]
    page, approved
) -> None:
    """The live server runs Celery eagerly, inside the request that starts the job: the solve
    is over when the job page first shows, so the bar is asserted full and the status "done"
    (the JS still fetches the progress rows once and draws them); a real worker's live
    progress is covered by the job tests with Redis."""
    from playwright.sync_api import expect

    # given sam logs in and follows the Schedule link
    page.goto("/accounts/login/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.get_by_role("link", name="Schedule", exact=True).click()
    expect(page).to_have_url(re.compile(r"/schedule/periods/120/$"))
    expect(page.get_by_test_id("issues")).to_contain_text("No issue")

    # when he starts a CP-SAT solve with a 3 s limit
    page.get_by_label("Solver").select_option("cpsat")
    page.get_by_label("Time limit (s)").fill("3")
    page.get_by_role("button", name="Start solve").click()

    # then the job page shows it done, the bar full and the objective/bound plotted
    expect(page).to_have_url(re.compile(r"/schedule/jobs/\d+/$"))
    expect(page.get_by_test_id("job-status")).to_have_text("done")
    bar = page.get_by_test_id("job-bar")
    expect(bar).to_have_attribute("max", "3")
    assert float(bar.evaluate("b => b.value")) == 3.0
    expect(page.get_by_test_id("job-objective")).not_to_have_text("—")
    expect(page.locator("#progress-plot .objective")).not_to_have_attribute("points", "")
    expect(page.get_by_test_id("cancel-form")).to_have_count(0)

    # when he opens the version
    page.get_by_test_id("job-version").get_by_role("link").click()

    # then the calendar shows the runs on their nights
    version = ScheduleVersion.objects.get(period=approved)
    calendar = page.get_by_test_id("calendar")
    for placement in version.placements.select_related("run").filter(run__mode="VM"):
        row = calendar.locator(f"#night-{placement.date.isoformat()}")
        expect(row).to_contain_text(str(placement.run))
    expect(calendar).to_contain_text("SM ")

    # when he accepts it
    page.get_by_role("button", name="Accept").click()

    # then the version is accepted
    expect(page.locator(".messages")).to_contain_text("accepted")
    expect(page.get_by_test_id("accepted")).to_be_visible()
    version.refresh_from_db()
    assert version.accepted_at is not None
    assert version.accepted_at > dt.datetime.now(tz=dt.UTC) - dt.timedelta(minutes=5)


def test_the_job_page_follows_a_running_job_until_it_is_done(  # type: ignore[no-untyped-def]
    page, approved
) -> None:
    """A job a worker runs (rows written here, as the worker would): the page polls the API
    every second and moves the bar, the numbers and the plot, then shows the version."""
    from django.utils import timezone
    from playwright.sync_api import expect

    from scheduling.models import JobProgress, JobStatus, ScheduleJob

    # given a running job with one progress report, and sam on its page
    job = ScheduleJob.objects.create(
        period=approved,
        solver="cpsat",
        time_limit_s=60,
        status=JobStatus.RUNNING,
        started_at=timezone.now() - dt.timedelta(seconds=20),
    )
    JobProgress.objects.create(job=job, elapsed_s=2.0, objective=100.0, bound=200.0, gap=0.5)
    page.goto("/accounts/login/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.goto(f"/schedule/jobs/{job.pk}/")
    expect(page.get_by_test_id("job-status")).to_have_text("running")
    expect(page.get_by_test_id("job-gap")).to_have_text("50.00 %")
    value = float(page.get_by_test_id("job-bar").evaluate("b => b.value"))
    assert 15 <= value < 60
    expect(page.get_by_test_id("cancel-form")).to_be_visible()

    # when the worker reports a better objective
    JobProgress.objects.create(job=job, elapsed_s=9.0, objective=180.0, bound=190.0, gap=0.0526)

    # then the page shows it without a reload, and the plot has both reports
    expect(page.get_by_test_id("job-objective")).to_have_text("180")
    expect(page.get_by_test_id("job-bound")).to_have_text("190")
    points = page.locator("#progress-plot .objective").get_attribute("points") or ""
    assert len(points.split()) == 2

    # when the job finishes with a version
    version = ScheduleVersion.objects.create(
        period=approved, job=job, number=1, solver="cpsat", status="feasible", objective=180.0
    )
    ScheduleJob.objects.filter(pk=job.pk).update(status=JobStatus.DONE, finished_at=timezone.now())

    # then the bar is full, the cancel button gone and the version linked
    expect(page.get_by_test_id("job-status")).to_have_text("done")
    assert float(page.get_by_test_id("job-bar").evaluate("b => b.value")) == 60.0
    expect(page.get_by_test_id("cancel-form")).to_be_hidden()
    link = page.get_by_test_id("job-version").get_by_role("link")
    expect(link).to_have_attribute("href", f"/schedule/versions/{version.pk}/")
