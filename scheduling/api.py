"""Long-term schedule REST API (under /api/v1/schedule/), staff only: start a period's solve
job, follow its progress, cancel it, read the schedule versions it stored.

Same conventions as the review API (``proposals.review.api``): every operation refuses anyone
but staff with 403 before anything is looked up; an input serializer checks shape, then
exactly one service is called; errors are ``{"detail", "errors"}``.
"""

from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.errors import NotAllowed
from dataflow.permissions import is_staff_member, may_manage_review, signed_in
from proposals.api.views import ERROR, ID
from proposals.models import Period
from scheduling import selectors, services
from scheduling.models import (
    JobProgress,
    LeftOut,
    Placement,
    ScheduleJob,
    ScheduleVersion,
    Solver,
)

WRITE_ERRORS = {400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR}
STAFF_READ_ERRORS = {401: ERROR, 403: ERROR, 404: ERROR}


def _staff_only(request: Request, what: str) -> User:
    """Refuse everyone but staff before any lookup (nothing is revealed)."""
    user = signed_in(request.user)
    if not (may_manage_review(user) or is_staff_member(user)):
        raise NotAllowed(f"Only observatory staff {what}.")
    return user


def _pk(value: str) -> int | None:
    """A path id as a primary key; one too large for any key names nothing (not a crash)."""
    return int(value) if len(value) <= 18 else None


# ---------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------


class JobInput(serializers.Serializer[Any]):
    solver = serializers.ChoiceField(choices=Solver.choices)
    time_limit_s = serializers.IntegerField(
        min_value=1, max_value=services.MAX_TIME_LIMIT_S, default=60, help_text="CP-SAT only"
    )


class JobProgressSerializer(serializers.ModelSerializer[JobProgress]):
    class Meta:
        model = JobProgress
        fields = ["elapsed_s", "objective", "bound", "gap", "at"]


class JobSerializer(serializers.ModelSerializer[ScheduleJob]):
    period = serializers.IntegerField(source="period.number")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    version = serializers.SerializerMethodField()

    class Meta:
        model = ScheduleJob
        fields = [
            "id",
            "period",
            "solver",
            "time_limit_s",
            "status",
            "cancel_requested",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "version",
        ]

    def get_version(self, job: ScheduleJob) -> int | None:
        """The id of the schedule version the job stored."""
        version = getattr(job, "version", None)
        return version.pk if version is not None else None


class JobDetailSerializer(JobSerializer):
    progress = JobProgressSerializer(many=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "progress"]


class VersionSerializer(serializers.ModelSerializer[ScheduleVersion]):
    period = serializers.IntegerField(source="period.number")
    job = serializers.IntegerField(source="job_id", allow_null=True)

    class Meta:
        model = ScheduleVersion
        fields = [
            "id",
            "period",
            "number",
            "job",
            "solver",
            "status",
            "objective",
            "bound",
            "created_at",
            "accepted_at",
        ]


class RunRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="run_id")
    name = serializers.CharField(source="run.__str__", help_text='e.g. "119.C-0001(A)"')
    telescope = serializers.CharField(source="run.telescope.name")
    instrument = serializers.CharField(source="run.instrument.name")
    mode = serializers.CharField(source="run.mode")


class PlacementSerializer(serializers.ModelSerializer[Placement]):
    run = RunRefSerializer(source="*")

    class Meta:
        model = Placement
        fields = ["run", "date", "hours", "first_half", "second_half"]


class LeftOutSerializer(serializers.ModelSerializer[LeftOut]):
    run = RunRefSerializer(source="*")

    class Meta:
        model = LeftOut
        fields = ["run", "reason"]


class VersionDetailSerializer(VersionSerializer):
    statistics = serializers.JSONField(
        help_text="Requested vs scheduled hours per rank class and RA bin, pressure, the solve"
    )
    placements = PlacementSerializer(many=True)
    left_out = LeftOutSerializer(many=True)

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "statistics", "placements", "left_out"]


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


class SchedulePeriodViewSet(viewsets.GenericViewSet[Period]):
    """A period's schedule jobs and versions."""

    lookup_field = "number"
    lookup_value_regex = r"\d+"
    pagination_class = None
    queryset = Period.objects.all()  # for the schema; the actions look periods up themselves

    def get_serializer_class(self) -> type[Any]:
        return JobSerializer

    def _period(self, request: Request, number: str, what: str) -> tuple[Period, User]:
        actor = _staff_only(request, what)
        period = Period.objects.filter(number=number).first()
        if period is None:
            raise NotFound("No such period.")
        return period, actor

    @extend_schema(methods=["GET"], responses={200: JobSerializer(many=True), **STAFF_READ_ERRORS})
    @extend_schema(
        methods=["POST"], request=JobInput, responses={201: JobSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["get", "post"])
    def jobs(self, request: Request, number: str) -> Response:
        """GET: the period's solve jobs, newest first. POST: start a solve (409 while another
        job of the period is queued or running; 400 naming the runs when the input is
        inconsistent, e.g. a pin on a technical night)."""
        if request.method == "GET":
            period, _ = self._period(request, number, "follow the schedule jobs")
            return Response(JobSerializer(selectors.period_jobs(period.pk), many=True).data)
        period, actor = self._period(request, number, "schedule a period")
        data = JobInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.job_start(period_id=period.pk, actor=actor, **data.validated_data)
        found = selectors.job_with_progress(job.pk)
        return Response(JobSerializer(found).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: VersionSerializer(many=True), **STAFF_READ_ERRORS})
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, number: str) -> Response:
        """The period's schedule versions, newest first."""
        period, _ = self._period(request, number, "read the schedule versions")
        return Response(VersionSerializer(selectors.period_versions(period.pk), many=True).data)


class JobViewSet(viewsets.GenericViewSet[ScheduleJob]):
    """A solve job with its progress (elapsed, best objective, bound, gap)."""

    lookup_url_kwarg = "job_id"
    lookup_value_regex = ID
    serializer_class = JobDetailSerializer

    def _job(self, request: Request, job_id: str, what: str) -> tuple[ScheduleJob, User]:
        actor = _staff_only(request, what)
        pk = _pk(job_id)
        job = selectors.job_with_progress(pk) if pk is not None else None
        if job is None:
            raise NotFound("No such job.")
        return job, actor

    @extend_schema(responses={200: JobDetailSerializer, **STAFF_READ_ERRORS})
    def retrieve(self, request: Request, job_id: str) -> Response:
        job, _ = self._job(request, job_id, "follow the schedule jobs")
        return Response(JobDetailSerializer(job).data)

    @extend_schema(request=None, responses={200: JobDetailSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, job_id: str) -> Response:
        """Cancel the job: a queued one at once, a running one when the task next looks
        (its solve runs out its time limit and is discarded). 409 once it has finished."""
        job, actor = self._job(request, job_id, "cancel a schedule job")
        services.job_cancel(job_id=job.pk, actor=actor)
        return Response(JobDetailSerializer(selectors.job_with_progress(job.pk)).data)


class VersionViewSet(viewsets.GenericViewSet[ScheduleVersion]):
    """A stored schedule: every run's nights (VM) or reserved hours per night (SM), the runs
    left out and why, and the solver's statistics."""

    lookup_url_kwarg = "version_id"
    lookup_value_regex = ID
    serializer_class = VersionDetailSerializer

    @extend_schema(responses={200: VersionDetailSerializer, **STAFF_READ_ERRORS})
    def retrieve(self, request: Request, version_id: str) -> Response:
        _staff_only(request, "read schedule versions")
        pk = _pk(version_id)
        version = selectors.version_detail(pk) if pk is not None else None
        if version is None:
            raise NotFound("No such schedule version.")
        return Response(VersionDetailSerializer(version).data)

    @extend_schema(request=None, responses={200: VersionSerializer, **WRITE_ERRORS})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, version_id: str) -> Response:
        """Accept the version as its period's schedule: every VM night and SM reservation of
        the period's runs is replaced by the version's, the previous acceptance is cleared,
        an event is recorded. 409 if it is already the accepted one."""
        actor = _staff_only(request, "accept a schedule")
        pk = _pk(version_id)
        if pk is None or not ScheduleVersion.objects.filter(pk=pk).exists():
            raise NotFound("No such schedule version.")
        version = services.version_accept(version_id=pk, actor=actor)
        return Response(VersionSerializer(version).data)


def register(router: Any) -> None:
    """The schedule resources, under ``schedule/`` of the API router."""
    router.register("schedule/periods", SchedulePeriodViewSet, basename="schedule-period")
    router.register("schedule/jobs", JobViewSet, basename="schedule-job")
    router.register("schedule/versions", VersionViewSet, basename="schedule-version")
