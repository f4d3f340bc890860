"""A long-term schedule job end to end through the production configuration: staff start a
CP-SAT solve, a real Celery worker on the Redis broker runs it against the PostgreSQL test
database, the job's progress rows grow while it runs, and the stored version passes the
engine's checker."""

import subprocess
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from scheduling import adapter
from scheduling.engine.longterm.checker import check_solution
from scheduling.models import JobProgress, JobStatus, ScheduleJob, ScheduleVersion
from scheduling.services import ACTIVE, job_start
from tests.factories import UserFactory
from tests.integration.conftest import NEEDS_REDIS, busy_period
from tests.scheduling.test_jobs import rebuilt_solution

pytestmark = [pytest.mark.services, NEEDS_REDIS]

TIME_LIMIT_S = 10


def test_a_worker_runs_a_long_solve_its_progress_growing_and_stores_a_checked_version(
    worker: tuple[subprocess.Popen[str], Path], staff: User
) -> None:
    proc, _ = worker
    # given a period a solve takes seconds over (committed: the worker sees it)
    period = busy_period(staff, UserFactory.create(username="pi"))
    # when staff start a CP-SAT solve
    job = job_start(period_id=period.pk, actor=staff, solver="cpsat", time_limit_s=TIME_LIMIT_S)
    # then the worker runs it, and its progress rows grow while it runs
    counts: list[int] = []  # rows seen while the job was running
    deadline = time.monotonic() + TIME_LIMIT_S + 120
    status: str = JobStatus.QUEUED
    while status in ACTIVE and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"The Celery worker exited:\n{proc.communicate()[0]}")
        count = JobProgress.objects.filter(job=job).count()  # before the status: rows of a run
        status = ScheduleJob.objects.values_list("status", flat=True).get(pk=job.pk)
        if status == JobStatus.RUNNING:
            counts.append(count)
        time.sleep(0.25)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error or job.status
    grew = sum(1 for a, b in zip(counts, counts[1:], strict=False) if b > a)
    assert grew >= 2, f"progress rows seen while running: {counts}"
    # and the stored schedule, rebuilt from its rows, passes the checker
    version = ScheduleVersion.objects.get(job=job)
    rows = list(JobProgress.objects.filter(job=job).order_by("id"))
    assert rows[-1].objective == version.objective  # the solve's final report
    pp = adapter.problem_for_period(period)
    assert check_solution(pp.problem, rebuilt_solution(version, pp)) == []
    assert version.placements.exists()
