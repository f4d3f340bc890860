"""Phase 2 API, an OB's time windows and finding charts.

p2: get/saveAbsoluteTimeConstraints and get/saveSiderealTimeConstraints (a GET and a PUT of
the whole list; we name the ends ``start``/``end``), add/get/deleteFindingChart (charts by
their 1-based index in the OB, at most 5). Windows and charts have no version of their own:
every answer carries the OB's ``ETag`` and ``If-Match`` names the OB's version.
"""

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from observations import ob_parts
from observations.api.common import COMMAND_ERRORS, IF_MATCH_OB, WRITE_ERRORS, OBViews, actor
from observations.api.inputs import (
    AbsoluteWindowInput,
    ChartInput,
    ChartSerializer,
    SiderealWindowInput,
)
from observations.api.read import AbsoluteWindowSerializer, SiderealWindowSerializer
from observations.models import AbsoluteWindow, FindingChart, ObservationBlock, SiderealWindow
from proposals.api.views import READ_ERRORS, JPEGRenderer, expected_version, with_etag

CHART_INDEX = OpenApiParameter(
    "chart_index", int, OpenApiParameter.PATH, description="1 to 5, in the order of upload"
)


def _charts(ob: ObservationBlock) -> list[dict[str, int | str]]:
    rows = FindingChart.objects.filter(ob=ob).order_by("pk").values_list("pk", "name", "size")
    return [
        {"id": pk, "index": i, "name": name, "size": size}
        for i, (pk, name, size) in enumerate(rows, start=1)
    ]


def _absolute(ob: ObservationBlock) -> Response:
    windows = AbsoluteWindow.objects.filter(ob=ob)
    data = AbsoluteWindowSerializer(windows, many=True).data
    return with_etag(Response(data), ob.version)


def _sidereal(ob: ObservationBlock) -> Response:
    windows = SiderealWindow.objects.filter(ob=ob)
    data = SiderealWindowSerializer(windows, many=True).data
    return with_etag(Response(data), ob.version)


class PartViews(OBViews):
    def _chart_id(self, ob: ObservationBlock, chart_index: str) -> int:
        index = int(chart_index) if len(chart_index) < 4 else 0
        charts = _charts(ob)
        if not 1 <= index <= len(charts):
            raise NotFound(f"The OB has {len(charts)} finding charts: no chart {chart_index}.")
        return int(charts[index - 1]["id"])

    def _reloaded(self, ob: ObservationBlock) -> ObservationBlock:
        ob.refresh_from_db(fields=["version"])
        return ob

    # -- windows ---------------------------------------------------------------------------------

    @extend_schema(responses={200: AbsoluteWindowSerializer(many=True), **READ_ERRORS})
    @action(detail=True, methods=["get"], url_path="absolute-windows")
    def absolute_windows(self, request: Request, ob_id: str) -> Response:
        """The OB's absolute (UTC) time windows, in time order."""
        return _absolute(self._ob(ob_id))

    @extend_schema(
        request=AbsoluteWindowInput(many=True),
        responses={200: AbsoluteWindowSerializer(many=True), **WRITE_ERRORS},
        parameters=[IF_MATCH_OB],
    )
    @absolute_windows.mapping.put
    def absolute_windows_save(self, request: Request, ob_id: str) -> Response:
        """Replace the absolute windows (``[]`` removes them): ``start`` before ``end``, no
        two overlapping; ISO times, UTC unless an offset is given. They may change in status
        - P D + A M."""
        ob = self._writable(ob_id)
        data = AbsoluteWindowInput(data=request.data, many=True)
        data.is_valid(raise_exception=True)
        ob_parts.absolute_windows_set(
            ob_id=ob.pk,
            windows=[(w["start"], w["end"]) for w in data.validated_data],
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return _absolute(self._reloaded(ob))

    @extend_schema(responses={200: SiderealWindowSerializer(many=True), **READ_ERRORS})
    @action(detail=True, methods=["get"], url_path="sidereal-windows")
    def sidereal_windows(self, request: Request, ob_id: str) -> Response:
        """The OB's sidereal (LST) time windows, in LST order."""
        return _sidereal(self._ob(ob_id))

    @extend_schema(
        request=SiderealWindowInput(many=True),
        responses={200: SiderealWindowSerializer(many=True), **WRITE_ERRORS},
        parameters=[IF_MATCH_OB],
    )
    @sidereal_windows.mapping.put
    def sidereal_windows_save(self, request: Request, ob_id: str) -> Response:
        """Replace the sidereal windows (``[]`` removes them), each ``HH:MM`` to ``HH:MM``
        (24:00 only as an end, none across 0h: split it in two), no two overlapping."""
        ob = self._editable(ob_id)
        data = SiderealWindowInput(data=request.data, many=True)
        data.is_valid(raise_exception=True)
        ob_parts.sidereal_windows_set(
            ob_id=ob.pk,
            windows=[(w["start"], w["end"]) for w in data.validated_data],
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return _sidereal(self._reloaded(ob))

    # -- finding charts --------------------------------------------------------------------------

    @extend_schema(responses={200: ChartSerializer(many=True), **READ_ERRORS})
    @action(
        detail=True,
        methods=["get"],
        url_path="finding-charts",
        # JSON too: a JSON body carries no file, and says so with a 400 rather than a 415.
        parser_classes=[MultiPartParser, FormParser, JSONParser],
    )
    def finding_charts(self, request: Request, ob_id: str) -> Response:
        """The OB's finding charts: index, name and size of each."""
        ob = self._ob(ob_id)
        return with_etag(Response(ChartSerializer(_charts(ob), many=True).data), ob.version)

    @extend_schema(
        request={"multipart/form-data": ChartInput},
        responses={201: ChartSerializer, **WRITE_ERRORS},
        parameters=[IF_MATCH_OB],
    )
    @finding_charts.mapping.post
    def finding_chart_add(self, request: Request, ob_id: str) -> Response:
        """Attach a finding chart (multipart, field ``file``): a JPEG by its content, at most
        1 MiB, at most 5 per OB. Answers the new chart (``ETag``: the OB's new version)."""
        ob = self._editable(ob_id)
        data = ChartInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        chart = ob_parts.chart_add(
            ob_id=ob.pk,
            name=upload.name or "",
            content=upload.read(),
            actor=actor(request),
            expected_version=expected_version(request),
        )
        added = next(c for c in _charts(ob) if c["id"] == chart.pk)
        answer = Response(ChartSerializer(added).data, status=status.HTTP_201_CREATED)
        return with_etag(answer, self._reloaded(ob).version)

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The JPEG"),
            **READ_ERRORS,
        },
        parameters=[CHART_INDEX],
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"finding-charts/(?P<chart_index>\d+)",
        renderer_classes=[JPEGRenderer, JSONRenderer],
    )
    def finding_chart(self, request: Request, ob_id: str, chart_index: str) -> HttpResponseBase:
        """The finding chart's image (JPEG). ``ETag``: the OB's version."""
        ob = self._ob(ob_id)
        chart = FindingChart.objects.get(pk=self._chart_id(ob, chart_index))
        response = HttpResponse(bytes(chart.content), content_type="image/jpeg")
        response["Content-Disposition"] = f'inline; filename="{chart.name}"'
        return with_etag(response, ob.version)

    @extend_schema(responses={204: None, **COMMAND_ERRORS}, parameters=[CHART_INDEX, IF_MATCH_OB])
    @finding_chart.mapping.delete
    def finding_chart_remove(self, request: Request, ob_id: str, chart_index: str) -> Response:
        """Remove the finding chart (the later ones move up one index)."""
        ob = self._editable(ob_id)
        ob_parts.chart_remove(
            chart_id=self._chart_id(ob, chart_index),
            ob_id=ob.pk,
            actor=actor(request),
            expected_version=expected_version(request),
        )
        return with_etag(Response(status=status.HTTP_204_NO_CONTENT), self._reloaded(ob).version)
