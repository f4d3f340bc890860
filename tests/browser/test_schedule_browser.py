"""The long-term schedule in a real browser (issue 10): staff start a CP-SAT solve of a period,
follow its job page, open the version's calendar and accept it. First with Celery eager (runs
everywhere; the solve is over before the job page shows), then with a real worker on Redis and
PostgreSQL, where the page is seen following a running solve."""

import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataflow.accounts.models import Role
from proposals.models import Period
from scheduling.models import RunNight, ScheduleVersion
from tests.factories import UserFactory
from tests.integration.conftest import NEEDS_REDIS, busy_period, running_worker
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
    (the JS still fetches the progress rows once and draws them); a running job is followed
    in the next test."""
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


@pytest.fixture
def celery_worker(
    transactional_db: None, tmp_path: Path, settings: Any
) -> Iterator[subprocess.Popen[str]]:
    """A real Celery worker on Redis, sharing the PostgreSQL test database with the live
    server: the solve runs outside the request, so its page sees it running."""
    with running_worker(Path(settings.MEDIA_ROOT), tmp_path) as proc:
        yield proc


@pytest.fixture
def busy(transactional_db: None) -> Period:
    """Period 120 with 160 approved runs on four telescopes: CP-SAT searches it for seconds."""
    sam = UserFactory.create(username="sam", roles=[Role.STAFF])
    return busy_period(sam, UserFactory.create(username="ada"))


@pytest.mark.services
@NEEDS_REDIS
def test_staff_watch_a_workers_solve_move_the_bar_then_accept_its_calendar(  # type: ignore[no-untyped-def]
    page, celery_worker, busy
) -> None:
    from playwright.sync_api import expect

    # given sam logs in and opens the period's schedule
    page.goto("/accounts/login/")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "pw")
    page.click("button[type=submit]")
    page.goto("/schedule/periods/120/")
    expect(page.get_by_test_id("issues")).to_contain_text("No issue")

    # when he starts a CP-SAT solve with an 8 s limit
    page.get_by_label("Solver").select_option("cpsat")
    page.get_by_label("Time limit (s)").fill("8")
    page.get_by_role("button", name="Start solve").click()

    # then the job page follows the worker: while the job runs, the bar moves on and the
    # engine's objective shows up (its plot too), without a reload
    expect(page).to_have_url(re.compile(r"/schedule/jobs/\d+/$"))
    expect(page.get_by_test_id("job-status")).to_have_text("running", timeout=30_000)
    bar = page.get_by_test_id("job-bar")
    expect(bar).to_have_attribute("max", "8")
    before = float(bar.evaluate("b => b.value"))
    page.wait_for_function(
        """before => {
            const box = document.getElementById("job-progress");
            const bar = box.querySelector('[data-testid="job-bar"]');
            const objective = box.querySelector('[data-testid="job-objective"]').textContent;
            return box.dataset.status === "running" && bar.value > before && objective !== "—";
        }""",
        arg=before,
        timeout=30_000,
    )
    expect(page.locator("#progress-plot .objective")).not_to_have_attribute("points", "")
    expect(page.get_by_test_id("cancel-form")).to_be_visible()

    # when the worker is done: the bar full, the cancel button gone, the version linked
    expect(page.get_by_test_id("job-status")).to_have_text("done", timeout=60_000)
    assert float(bar.evaluate("b => b.value")) == 8.0
    expect(page.get_by_test_id("cancel-form")).to_be_hidden()
    page.get_by_test_id("job-version").get_by_role("link").click()

    # and he accepts the version
    page.get_by_role("button", name="Accept").click()

    # then it is accepted, and the calendar shows the runs on their nights
    expect(page.locator(".messages")).to_contain_text("accepted")
    expect(page.get_by_test_id("accepted")).to_be_visible()
    version = ScheduleVersion.objects.get(period=busy)
    assert version.accepted_at is not None
    shown = page.get_by_test_id("calendar").evaluate(
        """table => Array.from(table.querySelectorAll("tbody tr")).flatMap(row =>
            Array.from(row.querySelectorAll(".vm-run")).map(run =>
                [row.id.slice("night-".length), run.firstChild.textContent.trim()]))"""
    )
    accepted = RunNight.objects.filter(version=version).select_related("run__proposal")
    nights = {(n.date.isoformat(), str(n.run)) for n in accepted}
    assert len(nights) > 20
    assert {(date, name) for date, name in shown} == nights
    expect(page.get_by_test_id("calendar")).to_contain_text("SM ")
