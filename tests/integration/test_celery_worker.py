"""End to end through the production configuration: a real Celery worker on the real Redis
broker, sharing the real PostgreSQL test database, renders and stores the final PDF."""

import io
import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from pypdf import PdfReader

from proposals.models import Proposal
from proposals.services import proposal_submit

BROKER = os.environ.get("CELERY_BROKER_URL", "")
pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(
        not BROKER.startswith("redis"), reason="needs CELERY_BROKER_URL=redis://..."
    ),
]


def test_real_worker_stores_final_pdf_and_mails_pi(worker, draft):
    proc, mail_dir = worker
    # given a complete draft (committed, so the worker's connection sees it)
    # when the PI submits it
    proposal_submit(proposal_id=draft.pk, actor=draft.pi)
    # then the worker renders and stores the final PDF and mails the PI
    deadline = time.monotonic() + 180
    proposal = Proposal.objects.get(pk=draft.pk)
    while not proposal.final_pdf and time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"The Celery worker exited:\n{proc.stdout.read()}")
        time.sleep(0.5)
        proposal.refresh_from_db()
    assert proposal.final_pdf, "the worker did not store the final PDF within 180 s"
    pdf_path = Path(settings.MEDIA_ROOT) / proposal.final_pdf.name
    text = "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(pdf_path.read_bytes())).pages
    )
    assert proposal.programme_id is not None
    assert proposal.programme_id in text
    assert proposal.title in text
    for _ in range(40):
        mails = [p.read_text(errors="replace") for p in mail_dir.iterdir()]
        if mails:
            break
        time.sleep(0.5)
    assert any(draft.pi.email in m and proposal.programme_id in m for m in mails)


def test_real_worker_sends_the_outcome_letter_when_the_last_run_is_decided(worker, draft):
    proc, mail_dir = worker
    # given a submitted proposal under review (committed, so the worker sees it)
    from dataflow.accounts.models import Role
    from proposals.review.services import review_start, run_decide
    from tests.factories import UserFactory

    staff = UserFactory.create(username="opc", roles=[Role.STAFF])
    proposal_submit(proposal_id=draft.pk, actor=draft.pi, queue_final_pdf=False)
    review_start(period_id=draft.period_id, actor=staff)
    # when staff approve its only run
    run_decide(run_id=draft.runs.get().pk, actor=staff, approved=True, rank_class="A", hours=3.0)
    # then the worker mails the PI the outcome letter with its PDF
    deadline = time.monotonic() + 180
    mails: list[str] = []
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"The Celery worker exited:\n{proc.stdout.read()}")
        mails = [p.read_text(errors="replace") for p in mail_dir.iterdir()]
        if mails:
            break
        time.sleep(0.5)
    proposal = Proposal.objects.get(pk=draft.pk)
    assert proposal.status == "approved"
    assert any(
        draft.pi.email in m and "outcome" in m.lower() and "application/pdf" in m for m in mails
    ), mails
    assert proposal.events.filter(note="outcome sent").count() == 1


def test_real_worker_solves_a_schedule_job_with_progress_and_a_checked_version(worker, staff):
    proc, _ = worker
    # given a period with approved runs (committed, so the worker sees them)
    from scheduling import adapter
    from scheduling.engine.longterm.checker import check_solution
    from scheduling.models import JobProgress, JobStatus, ScheduleJob, ScheduleVersion
    from scheduling.services import job_start
    from tests.factories import UserFactory
    from tests.scheduling.test_jobs import approved_period, rebuilt_solution

    world = approved_period(staff, UserFactory.create(username="pi"), nights=30, extra_runs=24)
    # when staff start a CP-SAT solve
    job = job_start(period_id=world.period.pk, actor=staff, solver="cpsat", time_limit_s=8)
    # then the worker runs it, records its progress and stores a version
    deadline = time.monotonic() + 180
    seen_running: list[int] = []
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"The Celery worker exited:\n{proc.stdout.read()}")
        job.refresh_from_db()
        if job.status == JobStatus.RUNNING:
            seen_running.append(JobProgress.objects.filter(job=job).count())
        if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            break
        time.sleep(0.2)
    assert job.status == JobStatus.DONE, job.error or job.status
    # This period is proven optimal within about a second, so the rows may all land after the
    # test's last look at the running job; they never shrink and the final report is stored.
    assert seen_running == sorted(seen_running)
    assert JobProgress.objects.filter(job=job).count() >= max(seen_running, default=0)
    assert JobProgress.objects.filter(job=job).exists()
    # and the stored schedule, rebuilt from its rows, passes the checker
    version = ScheduleVersion.objects.get(job=job)
    assert ScheduleJob.objects.get(pk=job.pk).finished_at is not None
    pp = adapter.problem_for_period(world.period)
    assert check_solution(pp.problem, rebuilt_solution(version, pp)) == []
    assert version.placements.exists()
