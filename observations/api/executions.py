"""Phase 2 API, an OB's executions: ``GET phase2/obs/{ob_id}/executions/?night=YYYY-MM-DD``
(p2's ``GET /obsBlocks/{id}/executions?night=``), for whoever may read the OB (its run's PI
and co-investigators, staff; 404 for anyone else, before the query is read; a bad night is a
400). Oldest first; ``night`` is the local evening date of the night it ran in."""

import datetime as dt
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from observations import night_selectors
from observations.api.common import OBViews
from observations.api.read import OB_ID
from observations.models import Execution, QCGrade, SkyTransparency
from proposals.api.views import ERROR, READ_ERRORS, with_etag

OUTCOMES = ("running", "completed", "must repeat", "aborted")


class OBExecutionConditionsSerializer(serializers.Serializer[Any]):
    """The conditions when the visit started (null or "": not measured)."""

    seeing_arcsec = serializers.FloatField(allow_null=True)
    transparency = serializers.CharField(
        allow_blank=True,
        help_text=f"One of {', '.join(SkyTransparency.values)}; empty: not measured",
    )
    wind_speed_ms = serializers.FloatField(allow_null=True)
    wind_direction_deg = serializers.FloatField(allow_null=True, help_text="From, N=0 E=90")
    water_vapour_mm = serializers.FloatField(allow_null=True)


class OBExecutionSerializer(serializers.Serializer[Any]):
    execution_id = serializers.IntegerField(source="pk")
    visit_id = serializers.IntegerField()
    night = serializers.DateField(source="visit.night", help_text="Local evening date")
    start = serializers.DateTimeField(source="visit.started_at", help_text="UTC")
    end = serializers.DateTimeField(source="ended_at", allow_null=True, help_text="UTC")
    outcome = serializers.SerializerMethodField()
    grade = serializers.ChoiceField(
        choices=[("", "not graded"), *QCGrade.choices],
        allow_blank=True,
        help_text="QC grade: A, B (OB completed), C (must repeat), D (closed); empty while "
        "running or when aborted",
    )
    aborted = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why it was aborted")
    comment = serializers.CharField()
    conditions = serializers.SerializerMethodField()
    charged_s = serializers.IntegerField(help_text="Seconds charged to the run's ledger")
    refunded_s = serializers.SerializerMethodField(help_text="Seconds refunded by staff")

    @extend_schema_field(serializers.ChoiceField(choices=OUTCOMES))
    def get_outcome(self, execution: Execution) -> str:
        if execution.aborted:
            return "aborted"
        if not execution.grade:
            return "running"
        return "must repeat" if execution.grade == QCGrade.C else "completed"

    @extend_schema_field(OBExecutionConditionsSerializer)
    def get_conditions(self, execution: Execution) -> dict[str, Any]:
        visit = execution.visit
        return {
            "seeing_arcsec": visit.seeing_arcsec,
            "transparency": visit.transparency,
            "wind_speed_ms": visit.wind_speed_ms,
            "wind_direction_deg": visit.wind_direction_deg,
            "water_vapour_mm": visit.water_vapour_mm,
        }

    @extend_schema_field(serializers.IntegerField())
    def get_refunded_s(self, execution: Execution) -> int:
        return execution.refund.seconds if execution.refund is not None else 0


class OBExecutionsQuery(serializers.Serializer[Any]):
    night = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])


NIGHT = OpenApiParameter(
    "night",
    dt.date,
    OpenApiParameter.QUERY,
    required=False,
    description="Only the executions of this night (its local evening date, YYYY-MM-DD)",
)


class ExecutionViews(OBViews):
    @extend_schema(
        parameters=[OB_ID, NIGHT],
        responses={200: OBExecutionSerializer(many=True), 400: ERROR, **READ_ERRORS},
    )
    @action(detail=True, methods=["get"])
    def executions(self, request: Request, ob_id: str) -> Response:
        """The OB's executions, oldest first: start and end, QC grade and outcome, the
        conditions at the start, the operator's comment, the seconds charged and refunded.
        ``ETag``: the OB's version."""
        ob = self._ob(ob_id)
        query = OBExecutionsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = night_selectors.ob_executions(ob.pk, query.validated_data.get("night"))
        return with_etag(Response(OBExecutionSerializer(rows, many=True).data), ob.version)
