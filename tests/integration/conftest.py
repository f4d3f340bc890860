"""A real Celery worker on the Redis broker, sharing the PostgreSQL test database, and a period
whose CP-SAT solve takes seconds (so that a test sees a job running)."""

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from dataflow.celery import app as celery_app
from proposals.models import ObservingRun, Period, ProposalStatus
from proposals.review.services import run_decide
from scheduling import adapter
from tests.factories import (
    InstrumentFactory,
    PeriodFactory,
    ProposalFactory,
    RunFactory,
    TargetFactory,
    TelescopeFactory,
)

BROKER = os.environ.get("CELERY_BROKER_URL", "")
NEEDS_REDIS = pytest.mark.skipif(
    not BROKER.startswith("redis"), reason="needs CELERY_BROKER_URL=redis://..."
)


@contextmanager
def running_worker(media_root: Path, mail_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A ``celery worker`` process on this test's database (committed rows only: use it from
    tests with ``transactional_db``), Celery not eager in this process meanwhile."""
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://... (the worker shares the test database)")
    db = connection.settings_dict
    queue = django_settings.CELERY_TASK_DEFAULT_QUEUE
    assert celery_app.conf.task_default_queue == queue, "tasks would miss the worker's queue"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dataflow.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "MEDIA_ROOT": str(media_root),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        # This process's own queue (dataflow/settings/test.py): under pytest-xdist each
        # process's worker takes only the tasks its own tests queue.
        "DATAFLOW_CELERY_QUEUE": queue,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dataflow",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=info",
            "--without-gossip",
            "--without-mingle",
            f"--queues={queue}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield proc
    finally:
        celery_app.conf.task_always_eager = eager
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def worker(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[Any]:
    """``(process, mail folder)`` of a running worker."""
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    with running_worker(Path(settings.MEDIA_ROOT), mail_dir) as proc:
        yield proc, mail_dir


INSTRUMENTS = {"UT1": "FORS2", "UT2": "UVES", "UT3": "SPHERE", "UT4": "MUSE"}


def busy_period(staff: User, pi: User, *, runs: int = 160, nights: int = 120) -> Period:
    """Period 120 of ``nights`` nights with ``runs`` approved runs of ``pi`` (four a proposal)
    drawn with a fixed seed over four telescopes: half VM (1-4 nights, each with three
    preferred dates), half SM (2-19 h, rank classes A-C), targets and moon limits spread.
    CP-SAT needs seconds for it, so a test sees the job running: with the defaults, a first
    report within a second, then 8-10 s of search on two cores (the preferred dates' small
    bonuses are what keep the bound from closing early). A VM run that would fit nowhere in
    the period's sky gets a target by the pole (the period would else be refused)."""
    rng = np.random.default_rng(120)
    start = (timezone.now() + dt.timedelta(days=120)).date()
    period = PeriodFactory.create(
        number=120, start=start, end=start + dt.timedelta(days=nights - 1)
    )
    instruments = [
        InstrumentFactory.create(telescope=TelescopeFactory.create(name=t), name=i)
        for t, i in INSTRUMENTS.items()
    ]
    for number in range(1, (runs + 3) // 4 + 1):
        proposal = ProposalFactory.create(period=period, pi=pi)
        made: list[ObservingRun] = []
        for letter in "ABCD"[: min(4, runs - 4 * (number - 1))]:
            instrument = instruments[int(rng.integers(len(instruments)))]
            vm = bool(rng.random() < 0.5)
            dec = rng.uniform(-65, 0) if vm else rng.uniform(-80, 10)
            target = TargetFactory.create(
                proposal=proposal, ra_deg=float(rng.uniform(0, 360)), dec_deg=float(dec)
            )
            preferred: list[str] = []
            if vm:
                first = start + dt.timedelta(days=int(rng.integers(0, nights - 3)))
                preferred = [(first + dt.timedelta(days=k)).isoformat() for k in range(3)]
            made.append(
                RunFactory.create(
                    proposal=proposal,
                    letter=letter,
                    telescope=instrument.telescope,
                    instrument=instrument,
                    mode="VM" if vm else "SM",
                    nights=float(rng.integers(1, 5)) if vm else None,
                    hours=None if vm else float(rng.integers(2, 20)),
                    max_fli=float(rng.choice([0.3, 0.6, 1.0])),
                    max_airmass=2.5 if vm else float(rng.choice([1.5, 2.0, 2.5])),
                    preferred_dates=preferred,
                    targets=[target],
                )
            )
        type(proposal).objects.filter(pk=proposal.pk).update(
            status=ProposalStatus.UNDER_REVIEW,
            programme_number=number,
            programme_id=f"120.C-{number:04d}",
        )
        for run in made:
            if run.mode == "VM":
                run_decide(
                    run_id=run.pk, actor=staff, approved=True, nights=run.nights, send_outcome=False
                )
            else:
                run_decide(
                    run_id=run.pk,
                    actor=staff,
                    approved=True,
                    rank_class=str(rng.choice(["A", "B", "C"])),
                    hours=run.hours,
                    send_outcome=False,
                )
    pp = adapter.problem_for_period(period)
    issues = adapter.check_period_problem(pp)
    for message in issues:
        rid, fits, _ = message.partition(" fits nowhere")
        if fits:
            run = pp.runs[rid]
            run.targets.update(dec_deg=-89.0)
            ObservingRun.objects.filter(pk=run.pk).update(max_airmass=3.0)
    if issues:
        issues = adapter.check_period_problem(adapter.problem_for_period(period))
    assert not issues, issues
    return period
