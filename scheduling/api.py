"""Long-term schedule REST API (under /api/v1/schedule/), staff only: start a period's solve
job, follow its progress, cancel it, read the schedule versions it stored, pin VM runs and
link them (and remove pins and links); staff read the visitors' arrival list. The one team
endpoint: a VM run's travel request (``runs/{id}/travel/``), with an ETag and If-Match as the
proposals API has them.

Same conventions as the review API (``proposals.review.api``): every operation refuses anyone
but staff with 403 before anything is looked up; an input serializer checks shape, then
exactly one service is called; errors are ``{"detail", "errors"}``.
"""

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.errors import NotAllowed, StaleVersion
from dataflow.permissions import is_staff_member, may_manage_review, signed_in
from proposals.api.views import ERROR, ID, expected_version, with_etag
from proposals.models import ObservingRun, Period
from scheduling import pins, selectors, services, travel
from scheduling.models import (
    JobProgress,
    LeftOut,
    LinkKind,
    Placement,
    RunLink,
    RunPin,
    ScheduleJob,
    ScheduleVersion,
    Solver,
    TravelRequest,
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


class PinSerializer(serializers.ModelSerializer[RunPin]):
    run = RunRefSerializer(source="*")
    by = serializers.CharField(source="by.username", allow_null=True, default=None)

    class Meta:
        model = RunPin
        fields = ["id", "run", "start", "second_half", "by", "at"]


class PinInput(serializers.Serializer[Any]):
    run = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, help_text="The id of an approved VM run of the period"
    )
    start = serializers.DateField(help_text="The local date on which its first night begins")
    second_half = serializers.BooleanField(
        default=False, help_text="Start on the second half of that night (half-night runs)"
    )


class LinkedRunSerializer(serializers.ModelSerializer[ObservingRun]):
    name = serializers.CharField(source="__str__", help_text='e.g. "119.C-0001(A)"')
    telescope = serializers.CharField(source="telescope.name")
    instrument = serializers.CharField(source="instrument.name")

    class Meta:
        model = ObservingRun
        fields = ["id", "name", "telescope", "instrument"]


class LinkSerializer(serializers.ModelSerializer[RunLink]):
    first = LinkedRunSerializer()
    second = LinkedRunSerializer()
    description = serializers.SerializerMethodField(
        help_text="The link in the scheduler's words, e.g. \"link 120.C-0003(A) 3..6 nights "
        'after 120.C-0001(A)"'
    )

    class Meta:
        model = RunLink
        fields = ["id", "first", "second", "kind", "min_days", "max_days", "ordered", "description"]

    def get_description(self, row: RunLink) -> str:
        return pins.describe_link(row)


class LinkInput(serializers.Serializer[Any]):
    first = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, help_text="The id of an approved VM run of the period"
    )
    second = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, help_text="The id of another approved VM run"
    )
    kind = serializers.ChoiceField(
        choices=LinkKind.choices,
        help_text="same_nights: the same nights on two telescopes; apart: starts some days apart",
    )
    min_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=10_000,
        help_text="apart: at least this many nights between the starts",
    )
    max_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=10_000,
        help_text="apart: at most this many nights between the starts",
    )
    ordered = serializers.BooleanField(
        default=True, help_text="apart: the second run starts after the first (else either way)"
    )


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

    @extend_schema(methods=["GET"], responses={200: PinSerializer(many=True), **STAFF_READ_ERRORS})
    @extend_schema(
        methods=["POST"],
        request=PinInput,
        responses={200: PinSerializer, 201: PinSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["get", "post"])
    def pins(self, request: Request, number: str) -> Response:
        """GET: the pins of the period's VM runs, by night. POST: pin a VM run to start on a
        night (201), or move its pin there (200); the next solve places it there. 400 naming
        the run, nothing stored, when the pin cannot hold: not an approved VM run of the
        period, a night outside it, technical or closed, or one the run cannot use (moon,
        instrument, visibility), an overlap with another pin."""
        if request.method == "GET":
            period, _ = self._period(request, number, "read the pins")
            return Response(PinSerializer(pins.period_pins(period.pk), many=True).data)
        period, actor = self._period(request, number, "pin runs")
        data = PinInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        existed = RunPin.objects.filter(run_id=values["run"]).exists()
        pin = pins.pin_set(
            period_id=period.pk,
            run_id=values["run"],
            start=values["start"],
            second_half=values["second_half"],
            actor=actor,
        )
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(PinSerializer(pins.period_pins(period.pk).get(pk=pin.pk)).data, code)

    @extend_schema(methods=["GET"], responses={200: LinkSerializer(many=True), **STAFF_READ_ERRORS})
    @extend_schema(
        methods=["POST"], request=LinkInput, responses={201: LinkSerializer, **WRITE_ERRORS}
    )
    @action(detail=True, methods=["get", "post"])
    def links(self, request: Request, number: str) -> Response:
        """GET: the links between the period's VM runs. POST: link two VM runs (201): on the
        same nights of two telescopes, or their starts some nights apart; the next solve
        schedules both or neither. 400 naming the runs, nothing stored, when the link cannot
        hold: not approved VM runs of the period, one run twice, bounds that make no sense,
        runs already linked, no pair of nights on which both fit."""
        if request.method == "GET":
            period, _ = self._period(request, number, "read the links")
            return Response(LinkSerializer(pins.period_links(period.pk), many=True).data)
        period, actor = self._period(request, number, "link runs")
        data = LinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        link = pins.link_add(
            period_id=period.pk,
            first_id=values["first"],
            second_id=values["second"],
            kind=values["kind"],
            min_days=values.get("min_days"),
            max_days=values.get("max_days"),
            ordered=values["ordered"],
            actor=actor,
        )
        found = pins.period_links(period.pk).get(pk=link.pk)
        return Response(LinkSerializer(found).data, status=status.HTTP_201_CREATED)


class PinViewSet(viewsets.GenericViewSet[RunPin]):
    """A pin of a VM run (staff): remove it."""

    lookup_url_kwarg = "pin_id"
    lookup_value_regex = ID
    serializer_class = PinSerializer
    queryset = RunPin.objects.none()  # for the schema; ``destroy`` looks the pin up itself

    @extend_schema(request=None, responses={204: None, **STAFF_READ_ERRORS, 409: ERROR})
    def destroy(self, request: Request, pin_id: str) -> Response:
        """Remove the pin: the next solve may place the run anywhere (409 if it is gone
        already)."""
        actor = _staff_only(request, "remove pins")
        pk = _pk(pin_id)
        if pk is None or not RunPin.objects.filter(pk=pk).exists():
            raise NotFound("No such pin.")
        pins.pin_remove(pin_id=pk, actor=actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LinkViewSet(viewsets.GenericViewSet[RunLink]):
    """A link between two VM runs (staff): remove it."""

    lookup_url_kwarg = "link_id"
    lookup_value_regex = ID
    serializer_class = LinkSerializer
    queryset = RunLink.objects.none()  # for the schema; ``destroy`` looks the link up itself

    @extend_schema(request=None, responses={204: None, **STAFF_READ_ERRORS, 409: ERROR})
    def destroy(self, request: Request, link_id: str) -> Response:
        """Remove the link: the next solve places the runs independently (409 if it is gone
        already)."""
        actor = _staff_only(request, "remove links")
        pk = _pk(link_id)
        if pk is None or not RunLink.objects.filter(pk=pk).exists():
            raise NotFound("No such link.")
        pins.link_remove(link_id=pk, actor=actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


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


# ---------------------------------------------------------------------------------------------
# Visitors: a VM run's travel request (its team), the arrival list (staff)
# ---------------------------------------------------------------------------------------------


class TravelInput(serializers.Serializer[Any]):
    travellers = serializers.ListField(
        child=serializers.CharField(allow_blank=True, max_length=200),
        help_text="The travellers' names: one to five.",
    )
    arrival = serializers.DateField(help_text="Arrival at the site, on or before the first night.")
    departure = serializers.DateField(help_text="Departure, after the last night.")
    flights = serializers.CharField(allow_blank=True, default="", max_length=5000)
    lodging = serializers.BooleanField(default=True, help_text="A room at the site.")
    notes = serializers.CharField(allow_blank=True, default="", max_length=5000)


TRAVEL_IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        'The travel request\'s ETag (from GET), e.g. "3". If present and stale (someone saved '
        "it since, or an accepted schedule marked it as needing an update) the write is "
        "refused with 412; if absent the write is accepted."
    ),
)


class TravelRequestSerializer(serializers.ModelSerializer[TravelRequest]):
    run = RunRefSerializer(source="*")
    travellers = serializers.ListField(child=serializers.CharField())
    submitted_by = serializers.CharField(
        source="submitted_by.username", allow_null=True, default=None
    )

    class Meta:
        model = TravelRequest
        fields = [
            "id",
            "run",
            "travellers",
            "arrival",
            "departure",
            "flights",
            "lodging",
            "notes",
            "status",
            "update_reason",
            "submitted_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ArrivalSerializer(TravelRequestSerializer):
    week = serializers.SerializerMethodField()
    pi = serializers.SerializerMethodField()

    class Meta(TravelRequestSerializer.Meta):
        fields = ["week", *TravelRequestSerializer.Meta.fields, "pi"]
        read_only_fields = fields

    def get_week(self, request: TravelRequest) -> str:
        """The ISO week of arrival, e.g. "2025-W14"."""
        year, week, _ = request.arrival.isocalendar()
        return f"{year}-W{week:02d}"

    def get_pi(self, request: TravelRequest) -> str:
        """The PI's name."""
        pi = request.run.proposal.pi
        return pi.get_full_name() or pi.username


class TravelRunViewSet(viewsets.GenericViewSet[ObservingRun]):
    """A VM run's travel to the site, for its team (the PI and accepted co-investigators)."""

    lookup_url_kwarg = "run_id"
    lookup_value_regex = ID
    pagination_class = None
    queryset = ObservingRun.objects.all()  # for the schema; the action looks runs up itself

    def get_serializer_class(self) -> type[Any]:
        return TravelRequestSerializer

    @extend_schema(
        methods=["GET"],
        responses={200: TravelRequestSerializer, 401: ERROR, 403: ERROR, 404: ERROR},
    )
    @extend_schema(
        methods=["PUT"],
        request=TravelInput,
        responses={
            200: TravelRequestSerializer,
            201: TravelRequestSerializer,
            **WRITE_ERRORS,
            412: ERROR,
        },
        parameters=[TRAVEL_IF_MATCH],
    )
    @action(detail=True, methods=["get", "put"])
    def travel(self, request: Request, run_id: str) -> Response:
        """GET: the run's travel request (404 until one is filed), with its ETag. PUT: file it
        (201) or replace it (200): arrive on or before the run's first night, leave after its
        last, one to five named travellers (400 with field messages); 412 when If-Match is
        stale. A request whose run's nights an accepted schedule moved out of its dates has
        the status ``needs_update`` (and ``update_reason``) until it is replaced with dates
        that fit. 409 when the run cannot travel: not visitor mode, not approved, or no nights
        in an accepted schedule. 404 unless the proposal is visible to you; 403 for staff who
        are not on its team."""
        actor = signed_in(request.user)
        pk = _pk(run_id)
        if pk is None:
            raise NotFound("No such run.")
        run = selectors.team_run(actor, pk)
        existing = selectors.travel_of_run(run.pk)
        if request.method == "GET":
            if existing is None:
                raise NotFound("No travel request for this run yet.")
            return with_etag(Response(TravelRequestSerializer(existing).data), existing.version)
        data = TravelInput(data=request.data)
        data.is_valid(raise_exception=True)
        travel.travel_request_save(
            run_id=run.pk,
            actor=actor,
            expected_version=_if_match(request),
            **data.validated_data,
        )
        saved = selectors.travel_of_run(run.pk)
        assert saved is not None  # just saved, under the run's lock
        code = status.HTTP_200_OK if existing is not None else status.HTTP_201_CREATED
        return with_etag(Response(TravelRequestSerializer(saved).data, status=code), saved.version)


def _if_match(request: Request) -> int | None:
    """The version If-Match names (the proposals API's reading of the header)."""
    try:
        return expected_version(request)
    except StaleVersion:
        raise StaleVersion(
            f"If-Match {request.headers.get('If-Match')!r} is not an ETag of this travel "
            "request: reload it and use its ETag."
        ) from None


class ArrivalViewSet(viewsets.GenericViewSet[TravelRequest]):
    """Staff: the visitors arriving today or later, by arrival date (each row names its ISO
    week, as the weekly arrival list groups them)."""

    pagination_class = None
    serializer_class = ArrivalSerializer
    queryset = TravelRequest.objects.none()  # for the schema; ``list`` reads the selector

    @extend_schema(responses={200: ArrivalSerializer(many=True), 401: ERROR, 403: ERROR})
    def list(self, request: Request) -> Response:
        _staff_only(request, "read the arrival list")
        rows = selectors.upcoming_arrivals(timezone.localdate())
        return Response(ArrivalSerializer(rows, many=True).data)


def register(router: Any) -> None:
    """The schedule resources, under ``schedule/`` of the API router."""
    router.register("schedule/periods", SchedulePeriodViewSet, basename="schedule-period")
    router.register("schedule/runs", TravelRunViewSet, basename="schedule-run")
    router.register("schedule/arrivals", ArrivalViewSet, basename="schedule-arrival")
    router.register("schedule/jobs", JobViewSet, basename="schedule-job")
    router.register("schedule/versions", VersionViewSet, basename="schedule-version")
    router.register("schedule/pins", PinViewSet, basename="schedule-pin")
    router.register("schedule/links", LinkViewSet, basename="schedule-link")
