"""Reads of the long-term schedule, shaped for its pages and API."""

import datetime as dt

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from dataflow.permissions import is_investigator, is_staff_member
from proposals.models import ObservingRun, Proposal
from scheduling.models import (
    JobProgress,
    LeftOut,
    Placement,
    RunNight,
    ScheduleJob,
    ScheduleVersion,
    TravelRequest,
)


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


# The accepted schedule: the platform's VM nights (``RunNight``), as the team and staff read them.
_NIGHT_RELATED = ("run__proposal__pi", "run__telescope__site", "run__instrument")


def nights_of_run(run: ObservingRun) -> QuerySet[RunNight]:
    """A VM run's accepted nights, in date order."""
    return RunNight.objects.filter(run=run).select_related(*_NIGHT_RELATED).order_by("date")


def team_nights(proposal: Proposal) -> QuerySet[RunNight]:
    """The accepted nights of every run of a proposal, by date then run (visibility is the
    caller's: look the proposal up through ``proposals.selectors.proposal_detail``)."""
    return (
        RunNight.objects.filter(run__proposal=proposal)
        .select_related(*_NIGHT_RELATED)
        .order_by("date", "run__letter")
    )


def period_nights(period_id: int) -> QuerySet[RunNight]:
    """Every accepted VM night of a period (staff's export), by date, telescope and run."""
    return (
        RunNight.objects.filter(run__proposal__period_id=period_id)
        .select_related(*_NIGHT_RELATED)
        .order_by("date", "run__telescope__name", "run__proposal__programme_id", "run__letter")
    )


# Visitors' travel requests.
_TRAVEL_RELATED = ("run__proposal__pi", "run__telescope", "run__instrument", "submitted_by")


def team_run(user: User | AnonymousUser, run_id: int) -> ObservingRun:
    """A run for its team's travel pages: 404 unless the user may see its proposal (never
    revealing that it exists), 403 for staff who are not on the team (they read the arrival
    list instead)."""
    from proposals.selectors import proposals_visible_to

    run = (
        ObservingRun.objects.select_related("proposal__period", "telescope", "instrument")
        .filter(pk=run_id, proposal__in=proposals_visible_to(user))
        .first()
    )
    if run is None:
        raise Http404("No such run.")
    if not is_investigator(user, run.proposal):
        if is_staff_member(user):
            raise PermissionDenied("Only the run's team files its travel.")
        raise Http404("No such run.")
    return run


def travel_of_run(run_id: int) -> TravelRequest | None:
    return TravelRequest.objects.select_related(*_TRAVEL_RELATED).filter(run_id=run_id).first()


def upcoming_arrivals(since: dt.date) -> QuerySet[TravelRequest]:
    """Travel requests arriving on or after ``since``, by arrival, telescope and run."""
    return (
        TravelRequest.objects.filter(arrival__gte=since)
        .select_related(*_TRAVEL_RELATED)
        .order_by("arrival", "run__telescope__name", "run__proposal__programme_id", "run__letter")
    )
