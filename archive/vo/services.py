"""TAP's asynchronous jobs (UWS 1.1): every write of a ``TapJob``.

A job is created PENDING (or queued at once with PHASE=RUN), queued by ``PHASE=RUN``, run by a
Celery task (:func:`tap_job_execute`) and ends COMPLETED with its result VOTable in
``ARCHIVE_ROOT/tap/`` or ERROR with the message; ABORT stops a job that has not finished.
A job belongs to the token's user, or to nobody (anonymous: whoever knows its id).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from archive.models import ArchiveEvent, ArchiveEventKind, TapJob, TapPhase
from archive.vo import adql
from archive.vo.votable import table_document
from dataflow.permissions import AnyUser

RETENTION = datetime.timedelta(days=7)
ACTIVE = {TapPhase.PENDING, TapPhase.QUEUED, TapPhase.EXECUTING}


class JobConflict(Exception):
    """The job's phase does not allow this (UWS: 303 back to the job, or 400 for bad input)."""


def _event(job: TapJob, phase: str) -> None:
    """A job's phase change, as an archive event (who: the job's owner; the job by its id)."""
    ArchiveEvent.objects.create(
        kind=ArchiveEventKind.TAP_JOB,
        actor_id=job.owner_id,
        detail={"job": str(job.job_id), "phase": phase},
    )


def result_file(job: TapJob) -> Path:
    return Path(settings.ARCHIVE_ROOT) / "tap" / f"{job.job_id}.xml"


def _queue(job: TapJob, base_url: str) -> None:
    from archive.vo.tasks import tap_job_run

    job.phase = TapPhase.QUEUED
    job.save(update_fields=["phase"])
    _event(job, job.phase)
    job_id = str(job.job_id)
    transaction.on_commit(lambda: tap_job_run.delay(job_id, base_url))


@transaction.atomic
def tap_job_create(
    *,
    owner: AnyUser,
    query: str,
    maxrec: int | None,
    run_id: str,
    run: bool,
    base_url: str,
) -> TapJob:
    """A new job (PENDING, or QUEUED when created with PHASE=RUN)."""
    job = TapJob.objects.create(
        owner=owner if owner.is_authenticated else None,
        query=query,
        maxrec=maxrec,
        run_id=run_id[:100],
        destruction=timezone.now() + RETENTION,
    )
    _event(job, job.phase)
    if run:
        _queue(job, base_url)
    return job


@transaction.atomic
def tap_job_phase(*, job_id: int, phase: str, base_url: str) -> TapJob:
    """PHASE=RUN queues a PENDING job; PHASE=ABORT ends an unfinished one."""
    job = TapJob.objects.select_for_update().get(pk=job_id)
    if phase == "RUN":
        if job.phase == TapPhase.PENDING:
            _queue(job, base_url)
    elif phase == "ABORT":
        if job.phase in ACTIVE:
            job.phase = TapPhase.ABORTED
            job.ended_at = timezone.now()
            job.save(update_fields=["phase", "ended_at"])
            _event(job, job.phase)
    else:
        raise JobConflict(f"PHASE must be RUN or ABORT, not {phase!r}.")
    return job


@transaction.atomic
def tap_job_update(
    *,
    job_id: int,
    execution_duration_s: int | None = None,
    destruction: datetime.datetime | None = None,
    query: str | None = None,
    maxrec: int | None = None,
) -> TapJob:
    """Change a job's settings; its query and MAXREC only while PENDING."""
    job = TapJob.objects.select_for_update().get(pk=job_id)
    fields = []
    if execution_duration_s is not None:
        job.execution_duration_s = min(execution_duration_s, adql.ASYNC_TIMEOUT_MS // 1000)
        fields.append("execution_duration_s")
    if destruction is not None:
        job.destruction = min(destruction, timezone.now() + RETENTION)
        fields.append("destruction")
    if query is not None or maxrec is not None:
        if job.phase != TapPhase.PENDING:
            raise JobConflict(f"The job is {job.phase}: its parameters are fixed.")
        if query is not None:
            job.query, fields = query, [*fields, "query"]
        if maxrec is not None:
            job.maxrec, fields = maxrec, [*fields, "maxrec"]
    if fields:
        job.save(update_fields=fields)
    return job


@transaction.atomic
def tap_job_fail(*, job_id: int, message: str) -> TapJob:
    """End a job that cannot run (bad parameters, no PostgreSQL) in ERROR with ``message``."""
    job = TapJob.objects.select_for_update().get(pk=job_id)
    if job.phase in ACTIVE:
        job.phase, job.error_message, job.ended_at = TapPhase.ERROR, message, timezone.now()
        job.save(update_fields=["phase", "error_message", "ended_at"])
        _event(job, job.phase)
    return job


@transaction.atomic
def tap_job_delete(*, job_id: int) -> None:
    job = TapJob.objects.select_for_update().get(pk=job_id)
    result_file(job).unlink(missing_ok=True)
    _event(job, "DELETED")
    job.delete()


def tap_job_execute(*, job_id: str, base_url: str) -> None:
    """Run a QUEUED job (the Celery task's body): COMPLETED with its result, or ERROR."""
    with transaction.atomic():
        job = TapJob.objects.select_for_update().filter(job_id=job_id).first()
        if job is None or job.phase != TapPhase.QUEUED:
            return  # deleted, aborted or already run: nothing to do (idempotent)
        job.phase, job.started_at = TapPhase.EXECUTING, timezone.now()
        job.save(update_fields=["phase", "started_at"])
        _event(job, job.phase)
    owner = job.owner
    user: AnyUser
    if owner is None:
        from django.contrib.auth.models import AnonymousUser

        user = AnonymousUser()
    else:
        user = owner
    maxrec = job.maxrec if job.maxrec is not None else adql.DEFAULT_MAXREC
    try:
        translated = adql.translate(job.query)
        result = adql.run(
            translated,
            user=user,
            maxrec=min(maxrec, adql.HARD_MAXREC),
            timeout_ms=job.execution_duration_s * 1000,
        )
    except adql.AdqlError as error:
        _finish(job_id, TapPhase.ERROR, error_message=str(error))
        return
    path = result_file(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for piece in table_document(
            result.fields, result.rows, base_url=base_url, overflow=result.overflow
        ):
            out.write(piece)
    _finish(
        job_id,
        TapPhase.COMPLETED,
        result_path=str(path.relative_to(Path(settings.ARCHIVE_ROOT))),
        result_rows=len(result.rows),
        overflow=result.overflow,
    )


@transaction.atomic
def _finish(job_id: str, phase: TapPhase, **values: object) -> None:
    job = TapJob.objects.select_for_update().filter(job_id=job_id).first()
    if job is None or job.phase != TapPhase.EXECUTING:
        if job is None:
            return
        if job.phase == TapPhase.ABORTED:
            result_file(job).unlink(missing_ok=True)
        return  # aborted meanwhile: the abort stands
    job.phase, job.ended_at = phase, timezone.now()
    for name, value in values.items():
        setattr(job, name, value)
    job.save()
    _event(job, job.phase)
