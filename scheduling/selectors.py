"""Reads of the long-term schedule, shaped for its pages and API."""

from django.db.models import Prefetch, QuerySet

from scheduling.models import JobProgress, LeftOut, Placement, ScheduleJob, ScheduleVersion


def period_jobs(period_id: int) -> QuerySet[ScheduleJob]:
    """The period's jobs, newest first."""
    return ScheduleJob.objects.filter(period_id=period_id).select_related("period", "created_by")


def job_with_progress(job_id: int) -> ScheduleJob | None:
    """A job with its progress rows (in solve order) and the version it stored, if any."""
    return (
        ScheduleJob.objects.select_related("period", "created_by", "version")
        .prefetch_related(
            Prefetch("progress", queryset=JobProgress.objects.order_by("elapsed_s", "id"))
        )
        .filter(pk=job_id)
        .first()
    )


def period_versions(period_id: int) -> QuerySet[ScheduleVersion]:
    """The period's schedule versions, newest first."""
    return ScheduleVersion.objects.filter(period_id=period_id).select_related("period", "job")


def version_detail(version_id: int) -> ScheduleVersion | None:
    """A version with its placements and left-out runs (each with its run and proposal)."""
    runs = ("run__proposal", "run__telescope", "run__instrument")
    return (
        ScheduleVersion.objects.select_related("period", "job")
        .prefetch_related(
            Prefetch("placements", queryset=Placement.objects.select_related(*runs)),
            Prefetch("left_out", queryset=LeftOut.objects.select_related(*runs)),
        )
        .filter(pk=version_id)
        .first()
    )
