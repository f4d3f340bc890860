"""Every phase change of a TAP job (UWS) leaves an archive event naming the job and its owner."""

import pytest
from django.contrib.auth.models import AnonymousUser

from archive.models import ArchiveEvent, ArchiveEventKind, TapPhase
from archive.vo import services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def phases(job_id: str) -> list[tuple[str, int | None]]:
    events = ArchiveEvent.objects.filter(kind=ArchiveEventKind.TAP_JOB).order_by("pk")
    return [(e.detail["phase"], e.actor_id) for e in events if e.detail["job"] == job_id]


def test_a_jobs_phases_are_recorded_until_it_is_deleted() -> None:
    owner = UserFactory.create(username="tapper")
    # when a job is created, aborted and deleted
    job = services.tap_job_create(
        owner=owner,
        query="SELECT TOP 1 * FROM ivoa.obscore",
        maxrec=None,
        run_id="",
        run=False,
        base_url="http://testserver",
    )
    services.tap_job_phase(job_id=job.pk, phase="ABORT", base_url="http://testserver")
    services.tap_job_delete(job_id=job.pk)
    # then each step is an event of the owner
    assert phases(str(job.job_id)) == [
        (TapPhase.PENDING, owner.pk),
        (TapPhase.ABORTED, owner.pk),
        ("DELETED", owner.pk),
    ]


def test_an_anonymous_jobs_failure_is_recorded_without_an_actor() -> None:
    job = services.tap_job_create(
        owner=AnonymousUser(),
        query="SELECT",
        maxrec=None,
        run_id="",
        run=False,
        base_url="http://testserver",
    )
    services.tap_job_fail(job_id=job.pk, message="TAP needs PostgreSQL.")
    assert phases(str(job.job_id)) == [(TapPhase.PENDING, None), (TapPhase.ERROR, None)]
