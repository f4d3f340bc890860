"""The night's REST API (under /api/v1/night/), for robotic telescopes, weather stations and
external tools; night operators and staff only (``dataflow.permissions.may_operate``):

* ``GET night/telescopes/{telescope}/ranking/``: the ranking panel of the console with the
  time, conditions and options as query parameters (blank ones: the latest weather reading,
  the engine's defaults);
* ``POST night/telescopes/{telescope}/weather/``: a weather reading (``source`` "station"
  for a weather station's token, "operator" when typed in);
* ``POST night/visits/``: start an OB (with the rest of its concatenation), 409 while
  another visit runs on the telescope; ``GET night/visits/{visit_id}/``; ``POST
  .../complete/`` with a QC grade (or one per OB) and ``POST .../abort/`` with a reason.

Conventions of the schedule API: everyone else is refused with 403 before anything is looked
up; an unknown telescope or visit is a 404; an input serializer checks the shape, then one
service (``observations.night``) or the ranking is called; errors are ``{"detail",
"errors"}``. Times are ISO 8601 in UTC (a time without an offset is taken as UTC).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.errors import NotAllowed
from dataflow.observatory.models import Telescope
from dataflow.permissions import may_operate, signed_in
from observations import night
from observations.models import QCGrade, SkyTransparency, Visit, WeatherReading
from proposals.api.views import ERROR
from scheduling import console
from scheduling.night.ranking import NightRanking

READ_ERRORS = {401: ERROR, 403: ERROR, 404: ERROR}
QUERY_ERRORS = {400: ERROR, **READ_ERRORS}
WRITE_ERRORS = {400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR}
MAX_ID = 2**31 - 1
MAX_TEXT = 5000
GRADES = [g for g, _ in QCGrade.choices]
# Plain strings in the schema, checked by the service and the ranking request: a choice field
# named "transparency" would collide with Phase 1's enum of the same field name.
TRANSPARENCY = f"Sky transparency, p2's names: {', '.join(SkyTransparency.values)}"


def _operator(request: Request, what: str) -> User:
    """Refuse everyone but night operators and staff before any lookup."""
    user = signed_in(request.user)
    if not may_operate(user):
        raise NotAllowed(f"Only night operators and staff {what}.")
    return user


def _pk(value: str) -> int | None:
    """A path id as a primary key; one too large for any key names nothing (not a crash)."""
    return int(value) if len(value) <= 9 else None


def _telescope(value: str) -> Telescope:
    pk = _pk(value)
    found = Telescope.objects.filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotFound("No such telescope.")
    return found


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _supported(value: dt.datetime | None) -> None:
    """Times the night's computations handle (astropy's tables, a night's date)."""
    if value is not None and not console.EARLIEST <= value < console.LATEST:
        years = f"{console.EARLIEST:%Y} to {console.LATEST.year - 1}"
        raise serializers.ValidationError(f"Give a time from {years} (UTC).")


def _time(help_text: str) -> serializers.DateTimeField:
    return serializers.DateTimeField(
        required=False, allow_null=True, help_text=help_text, validators=[_supported]
    )


def _float(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(required=False, allow_null=True, help_text=help_text)


def _param(help_text: str) -> serializers.FloatField:
    """A number in the query (absent or empty: the default)."""
    return serializers.FloatField(required=False, help_text=help_text)


class ConditionsInput(serializers.Serializer[Any]):
    """Conditions as measured (null or absent: not measured)."""

    seeing_arcsec = _float("Seeing, arcsec (more than 0, at most 10)")
    transparency = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text=f"{TRANSPARENCY}; empty: not measured",
    )
    wind_speed_ms = _float("Wind speed, m/s (0-80)")
    wind_direction_deg = _float("Where the wind blows from, degrees (0-360, N=0, E=90)")
    water_vapour_mm = _float("Precipitable water vapour, mm (0-50)")

    def conditions(self) -> night.ConditionsData | None:
        """The conditions given, None when none was."""
        given = {k: v for k, v in self.validated_data.items() if k in night.CONDITION_FIELDS}
        given = {k: v for k, v in given.items() if v not in (None, "")}
        return night.ConditionsData(**given) if given else None


class RankingQuery(serializers.Serializer[Any]):
    at = serializers.DateTimeField(
        required=False,
        validators=[_supported],
        help_text="The time to rank for, ISO 8601 UTC (e.g. 2027-09-17T03:00:00Z); default now",
    )
    seeing_arcsec = _param("Seeing, arcsec; default: the latest weather reading's")
    transparency = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text=f"{TRANSPARENCY}; default: the latest weather reading's, else Clear",
    )
    wind_speed_ms = _param("Wind speed, m/s (0-80); default: the latest reading's, else 0")
    wind_direction_deg = _param("Wind from, degrees (0-360); default: the latest reading's")
    airmass_tolerance_pct = _param("An OB's max airmass relaxed by this much, % (0-100)")
    fli_tolerance_pct = _param("Max lunar illumination relaxed by this much, % (0-100)")
    sun_max_elevation_deg = _param("The Sun at or below this altitude, degrees (default -18)")
    moon_elevation_limit_deg = _param("Below this altitude the Moon counts as down (default 0)")
    moon_distance_tolerance_pct = _param("Min Moon distance relaxed by this much, % (0-100)")
    zenith_avoidance_deg = _param("Targets closer to the zenith are filtered (default 2)")
    start_only = serializers.BooleanField(
        required=False,
        help_text="Check the constraints at the start time only (ESO's 'Exec at UT start "
        "time only'); default false: over the whole execution",
    )
    wind_restriction = serializers.BooleanField(
        required=False, help_text="Avoid pointing into strong wind (default true)"
    )
    scorer = serializers.ChoiceField(
        choices=console.SCORER_NAMES, required=False, help_text="The algorithm (default)"
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=console.MAX_ROWS, default=50,
        help_text="Ranked OBs returned, best first",
    )  # fmt: skip
    filtered_limit = serializers.IntegerField(
        required=False, min_value=0, max_value=console.MAX_ROWS, default=50,
        help_text="Filtered OBs returned, those of the best runs first",
    )  # fmt: skip


class WeatherInput(ConditionsInput):
    at = _time("When it was measured, ISO 8601 UTC; default now")
    # DRF's metaclass takes declared fields off the class, so this "source" does not shadow
    # Field.source at run time; the stubs cannot know.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=night.WEATHER_SOURCES,
        default="operator",
        help_text='"station" for a weather station, "operator" when typed in',
    )


class VisitStartInput(ConditionsInput):
    telescope = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    ob_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="The OB to start; an OB of a concatenation starts its whole concatenation",
    )
    at = _time("When it starts, ISO 8601 UTC; default now")


class VisitCompleteInput(serializers.Serializer[Any]):
    grade = serializers.ChoiceField(
        choices=GRADES,
        required=False,
        allow_null=True,
        help_text="QC grade: A or B (completed), C (must repeat), D (completed out of constraints)",
    )
    grades = serializers.DictField(
        child=serializers.ChoiceField(choices=GRADES),
        required=False,
        help_text="A concatenation's grades by OB id (others get ``grade``)",
    )
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_TEXT
    )
    at = _time("When it ended, ISO 8601 UTC; default now")

    def validate_grades(self, value: dict[str, str]) -> dict[int, str]:
        out = {}
        for key, grade in value.items():
            if not key.isdigit() or len(key) > 9:
                raise serializers.ValidationError(f"'{key}' is not an OB id.")
            out[int(key)] = grade
        return out


class VisitAbortInput(serializers.Serializer[Any]):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_TEXT
    )
    at = _time("When it ended, ISO 8601 UTC; default now")


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------


class ReasonSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="e.g. airmass, moon_fli, seeing, time_link_not_open")
    text = serializers.CharField()


class RankedSerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField(help_text="1: execute next")
    ob_id = serializers.IntegerField()
    name = serializers.CharField()
    run_id = serializers.IntegerField()
    run = serializers.CharField(help_text='e.g. "130.C-0001(A)"')
    container_id = serializers.IntegerField()
    container = serializers.CharField()
    container_type = serializers.CharField(help_text="Folder, Group, TimeLink or Concatenation")
    score = serializers.FloatField(help_text="The sum of the components")
    components = serializers.DictField(
        child=serializers.FloatField(), help_text="The rank justification: points by component"
    )
    concatenation = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The OBs executed back to back with it, itself included (empty: none)",
    )


class FilteredSerializer(serializers.Serializer[Any]):
    ob_id = serializers.IntegerField()
    name = serializers.CharField()
    run_id = serializers.IntegerField()
    run = serializers.CharField()
    container_id = serializers.IntegerField()
    container = serializers.CharField()
    container_type = serializers.CharField()
    reasons = ReasonSerializer(many=True)
    observable_from = serializers.DateTimeField(
        allow_null=True,
        help_text="When it passes every filter tonight if the conditions stay (null: not tonight)",
    )


class UsedConditionsSerializer(serializers.Serializer[Any]):
    seeing_arcsec = serializers.FloatField()
    transparency = serializers.CharField()
    wind_speed_ms = serializers.FloatField()
    wind_direction_deg = serializers.FloatField()
    reading_id = serializers.IntegerField(
        allow_null=True, help_text="The weather reading that gave what was not given"
    )
    reading_at = serializers.DateTimeField(allow_null=True)


class UsedOptionsSerializer(serializers.Serializer[Any]):
    airmass_tolerance_pct = serializers.FloatField()
    fli_tolerance_pct = serializers.FloatField()
    sun_max_elevation_deg = serializers.FloatField()
    moon_elevation_limit_deg = serializers.FloatField()
    moon_distance_tolerance_pct = serializers.FloatField()
    zenith_avoidance_deg = serializers.FloatField()
    start_only = serializers.BooleanField()
    wind_restriction = serializers.BooleanField()


class TimingsSerializer(serializers.Serializer[Any]):
    probe_ms = serializers.FloatField(help_text="The query checking the cached arrays")
    build_ms = serializers.FloatField(help_text="Rebuilding the arrays (0 when cached)")
    rank_ms = serializers.FloatField(help_text="The ranking and its rows")
    cache_hit = serializers.BooleanField()


class SkippedSerializer(serializers.Serializer[Any]):
    ob_id = serializers.IntegerField()
    why = serializers.CharField()


class RankingSerializer(serializers.Serializer[Any]):
    telescope = serializers.IntegerField()
    night = serializers.DateField(help_text="The local evening date of the night ranked")
    at = serializers.DateTimeField()
    scorer = serializers.CharField()
    conditions = UsedConditionsSerializer()
    options = UsedOptionsSerializer()
    ranked_total = serializers.IntegerField()
    filtered_total = serializers.IntegerField()
    ranked = RankedSerializer(many=True)
    filtered = FilteredSerializer(many=True)
    never_tonight = serializers.IntegerField(
        help_text="Filtered OBs whose target stays below its airmass limit all night"
    )
    needs_better_weather = serializers.IntegerField(
        help_text="Filtered OBs that need better seeing or transparency than now"
    )
    exhausted_runs = serializers.ListField(
        child=serializers.CharField(), help_text="Approved runs left out: no time left"
    )
    skipped = SkippedSerializer(many=True, help_text="Accepted OBs the engine cannot take")
    timings = TimingsSerializer()


def ranking_answer(req: console.RankRequest, result: NightRanking) -> dict[str, Any]:
    options = req.options
    reading = req.reading
    return {
        "telescope": result.telescope_id,
        "night": result.night,
        "at": result.at,
        "scorer": result.scorer,
        "conditions": {
            "seeing_arcsec": req.conditions.seeing_arcsec,
            "transparency": req.transparency,
            "wind_speed_ms": req.conditions.wind_speed_ms,
            "wind_direction_deg": req.conditions.wind_direction_deg,
            "reading_id": reading.pk if reading is not None else None,
            "reading_at": reading.at if reading is not None else None,
        },
        "options": {
            **{name: getattr(options, name) for name in console.OPTION_RANGES},
            "start_only": req.start_only,
            "wind_restriction": options.wind_restriction,
        },
        "ranked_total": result.ranked_total,
        "filtered_total": result.filtered_total,
        "ranked": [
            {**row.__dict__, "rank": rank, "concatenation": list(row.concatenation)}
            for rank, row in enumerate(result.ranked, start=1)
        ],
        "filtered": [
            {**row.__dict__, "reasons": [r.__dict__ for r in row.reasons]}
            for row in result.filtered
        ],
        "never_tonight": result.never_tonight,
        "needs_better_weather": result.needs_better_weather,
        "exhausted_runs": list(result.exhausted_runs),
        "skipped": [{"ob_id": pk, "why": why} for pk, why in result.skipped],
        "timings": {
            "probe_ms": result.probe_ms,
            "build_ms": result.build_ms,
            "rank_ms": result.rank_ms,
            "cache_hit": result.cache_hit,
        },
    }


class WeatherReadingSerializer(serializers.ModelSerializer[WeatherReading]):
    telescope = serializers.IntegerField(source="telescope_id")
    transparency = serializers.CharField(help_text=f"{TRANSPARENCY}; empty: not measured")
    author = serializers.CharField(source="author.username", allow_null=True, default=None)

    class Meta:
        model = WeatherReading
        fields = [
            "id",
            "telescope",
            "at",
            "source",
            "author",
            "seeing_arcsec",
            "transparency",
            "wind_speed_ms",
            "wind_direction_deg",
            "water_vapour_mm",
        ]
        read_only_fields = fields


class VisitExecutionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    ob_id = serializers.IntegerField()
    ob_name = serializers.CharField(source="ob.name")
    ob_status = serializers.CharField(source="ob.status", help_text="The OB's status now")
    position = serializers.IntegerField(help_text="Order in the visit")
    status_before = serializers.CharField(help_text="The OB's status when it started")
    ended_at = serializers.DateTimeField(allow_null=True)
    grade = serializers.CharField(help_text="QC grade; empty while running or when aborted")
    aborted = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why it was aborted")
    comment = serializers.CharField()
    charged_s = serializers.IntegerField(help_text="Seconds charged to the run's ledger")


class VisitSerializer(serializers.ModelSerializer[Visit]):
    telescope = serializers.IntegerField(source="telescope_id")
    telescope_name = serializers.CharField(source="telescope.name")
    concatenation = serializers.IntegerField(source="concatenation_id", allow_null=True)
    operator = serializers.CharField(source="operator.username", allow_null=True, default=None)
    transparency = serializers.CharField(help_text=f"{TRANSPARENCY}; empty: not measured")
    executions = VisitExecutionSerializer(many=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "telescope",
            "telescope_name",
            "night",
            "state",
            "started_at",
            "ended_at",
            "operator",
            "concatenation",
            "seeing_arcsec",
            "transparency",
            "wind_speed_ms",
            "wind_direction_deg",
            "water_vapour_mm",
            "executions",
        ]
        read_only_fields = fields


def _visit_answer(visit_id: int, code: int = status.HTTP_200_OK) -> Response:
    found = console.visit_detail(visit_id)
    assert found is not None  # just written or looked up
    return Response(VisitSerializer(found).data, status=code)


def _at(data: dict[str, Any]) -> dt.datetime | None:
    value = data.get("at")
    return value if isinstance(value, dt.datetime) else None


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

TELESCOPE = OpenApiParameter("telescope", int, OpenApiParameter.PATH, description="Its id")
VISIT = OpenApiParameter("visit_id", int, OpenApiParameter.PATH)


class NightTelescopeViewSet(viewsets.GenericViewSet[Telescope]):
    """A telescope's night: its ranking, its weather readings."""

    lookup_url_kwarg = "telescope"
    lookup_value_regex = r"\d+"
    pagination_class = None
    queryset = Telescope.objects.none()  # for the schema; the actions look telescopes up

    def get_serializer_class(self) -> type[Any]:
        return RankingSerializer

    @extend_schema(
        parameters=[TELESCOPE, RankingQuery],
        responses={200: RankingSerializer, **QUERY_ERRORS},
    )
    @action(detail=True, methods=["get"])
    def ranking(self, request: Request, telescope: str) -> Response:
        """Which OB next: the telescope's accepted OBs ranked for the time, conditions and
        options given (blank: now, the latest weather reading at that time, the engine's
        defaults), each with its score and its components (the rank justification); the
        filtered ones with every reason and when they become observable tonight. 400 with
        field messages for a bad value, or when no seeing is given nor measured."""
        _operator(request, "rank OBs")
        found = _telescope(telescope)
        given = {k: v for k, v in request.query_params.items() if v != ""}
        query = RankingQuery(data=given)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        req = console.rank_request(found.pk, values)
        result = console.ranking(
            found.pk, req, limit=values["limit"], filtered_limit=values["filtered_limit"]
        )
        # The answer is served as built (plain values): passing it through RankingSerializer,
        # which declares it for the schema, cost ~12 ms of the 10,000-OB ranking's ~55 ms
        # over HTTP; a test checks the two agree.
        return Response(ranking_answer(req, result))

    @extend_schema(
        parameters=[TELESCOPE],
        request=WeatherInput,
        responses={201: WeatherReadingSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def weather(self, request: Request, telescope: str) -> Response:
        """Record a weather reading at the telescope (at least one value; 400 naming each
        value out of its range)."""
        actor = _operator(request, "post the weather")
        found = _telescope(telescope)
        data = WeatherInput(data=request.data)
        data.is_valid(raise_exception=True)
        reading = night.weather_post(
            telescope_id=found.pk,
            data=data.conditions() or night.ConditionsData(),
            actor=actor,
            source=data.validated_data["source"],
            at=_at(data.validated_data),
        )
        return Response(WeatherReadingSerializer(reading).data, status=status.HTTP_201_CREATED)


class VisitViewSet(viewsets.GenericViewSet[Visit]):
    """Visits: an OB (or a concatenation's OBs) started, then completed or aborted."""

    lookup_url_kwarg = "visit_id"
    lookup_value_regex = r"\d+"
    pagination_class = None
    serializer_class = VisitSerializer
    queryset = Visit.objects.none()  # for the schema; the actions look visits up

    def _visit(self, request: Request, visit_id: str, what: str) -> tuple[int, User]:
        actor = _operator(request, what)
        pk = _pk(visit_id)
        if pk is None or not Visit.objects.filter(pk=pk).exists():
            raise NotFound("No such visit.")
        return pk, actor

    @extend_schema(request=VisitStartInput, responses={201: VisitSerializer, **WRITE_ERRORS})
    def create(self, request: Request) -> Response:
        """Start an OB on a telescope now (or at ``at``): it becomes ``S``; an OB of a
        concatenation starts every OB of it not yet completed. 409 while another visit runs
        on the telescope (naming it), or when the OB cannot start (its status, a time-link
        window); 400 for an OB of another telescope or unknown. The visit keeps the
        conditions given, else the latest reading of the night."""
        actor = _operator(request, "start OBs")
        data = VisitStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        visit = night.visit_start(
            telescope_id=values["telescope"],
            ob_id=values["ob_id"],
            actor=actor,
            at=_at(values),
            conditions=data.conditions(),
        )
        return _visit_answer(visit.pk, status.HTTP_201_CREATED)

    @extend_schema(parameters=[VISIT], responses={200: VisitSerializer, **READ_ERRORS})
    def retrieve(self, request: Request, visit_id: str) -> Response:
        """The visit: its state, start and end, operator, conditions at the start, and each
        OB's execution (grade, outcome, seconds charged)."""
        pk, _ = self._visit(request, visit_id, "read visits")
        return _visit_answer(pk)

    @extend_schema(
        parameters=[VISIT],
        request=VisitCompleteInput,
        responses={200: VisitSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, visit_id: str) -> Response:
        """End the running visit with a QC grade (or ``grades`` by OB id for a
        concatenation's OBs): A, B, D complete the OB (``C``), C means it must be repeated
        (``M``); each OB's execution time is charged to its run. 409 once the visit ended."""
        pk, actor = self._visit(request, visit_id, "complete OBs")
        data = VisitCompleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        night.visit_complete(
            visit_id=pk,
            grade=values.get("grade"),
            grades=values.get("grades"),
            comment=values["comment"],
            actor=actor,
            at=_at(values),
        )
        return _visit_answer(pk)

    @extend_schema(
        parameters=[VISIT],
        request=VisitAbortInput,
        responses={200: VisitSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def abort(self, request: Request, visit_id: str) -> Response:
        """Abort the running visit, saying why (400 without a reason): its OBs become ``A``;
        the time elapsed is charged, at most their execution time. 409 once it ended."""
        pk, actor = self._visit(request, visit_id, "abort OBs")
        data = VisitAbortInput(data=request.data)
        data.is_valid(raise_exception=True)
        night.visit_abort(
            visit_id=pk,
            reason=data.validated_data["reason"],
            actor=actor,
            at=_at(data.validated_data),
        )
        return _visit_answer(pk)


def register(router: Any) -> None:
    """The night resources, under ``night/`` of the API router."""
    router.register("night/telescopes", NightTelescopeViewSet, basename="night-telescope")
    router.register("night/visits", VisitViewSet, basename="night-visit")
