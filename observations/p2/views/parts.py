"""p2 OB parts: absolute and sidereal time constraints, finding charts, ephemeris file."""

import re
from collections.abc import Mapping
from typing import IO, Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response

from observations import ob_parts
from observations.models import (
    AbsoluteWindow,
    EphemerisFile,
    FindingChart,
    ObservationBlock,
    SiderealWindow,
)
from observations.p2 import schema as out
from observations.p2 import shapes
from observations.p2.transport import (
    IF_MATCH,
    NO_CONTENT,
    READ_ERRORS,
    WRITE_ERRORS,
    JpegParser,
    P2View,
    answer,
    expected_version,
    no_content,
)
from observations.p2.views.common import (
    COMMAND_ERRORS,
    STRINGS,
    _actor,
    _ob,
    _valid,
    _writable_ob,
)

# ---------------------------------------------------------------------------------------------


class AbsoluteWindowsView(P2View):
    @extend_schema(
        operation_id="p2_absolute_windows",
        responses={200: out.P2WindowOut(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, ob_id: int) -> Response:
        """getAbsoluteTimeConstraints: UTC windows ``YYYY-MM-DDTHH:MM``, by ``from``."""
        ob = _ob(request, ob_id)
        return answer(shapes.absolute_json(AbsoluteWindow.objects.filter(ob=ob)), ob.version)

    @extend_schema(
        operation_id="p2_absolute_windows_save",
        request=shapes.P2WindowInput(many=True),
        parameters=[IF_MATCH],
        responses={200: out.P2WindowOut(many=True), **WRITE_ERRORS},
    )
    def put(self, request: Request, ob_id: int) -> Response:
        """saveAbsoluteTimeConstraints: replace them (from before to, no overlap)."""
        ob = _writable_ob(request, ob_id)
        data = _valid(shapes.P2WindowInput(data=request.data, many=True))
        ob_parts.absolute_windows_set(
            ob_id=ob.pk,
            windows=shapes.window_pairs(data),
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return self.get(request, ob.pk)


class SiderealWindowsView(P2View):
    @extend_schema(
        operation_id="p2_sidereal_windows",
        responses={200: out.P2WindowOut(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, ob_id: int) -> Response:
        """getSiderealTimeConstraints: LST windows ``HH:MM`` (24:00 only as an end)."""
        ob = _ob(request, ob_id)
        return answer(shapes.sidereal_json(SiderealWindow.objects.filter(ob=ob)), ob.version)

    @extend_schema(
        operation_id="p2_sidereal_windows_save",
        request=shapes.P2WindowInput(many=True),
        parameters=[IF_MATCH],
        responses={200: out.P2WindowOut(many=True), **WRITE_ERRORS},
    )
    def put(self, request: Request, ob_id: int) -> Response:
        """saveSiderealTimeConstraints: replace them."""
        ob = _writable_ob(request, ob_id)
        data = _valid(shapes.P2WindowInput(data=request.data, many=True))
        ob_parts.sidereal_windows_set(
            ob_id=ob.pk,
            windows=shapes.window_pairs(data),
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return self.get(request, ob.pk)


# ---------------------------------------------------------------------------------------------
# Finding charts
# ---------------------------------------------------------------------------------------------

_FILENAME = re.compile(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', re.IGNORECASE)


class FindingChartsView(P2View):
    parser_classes = [JpegParser]

    @extend_schema(operation_id="p2_finding_charts", responses={200: STRINGS, **READ_ERRORS})
    def get(self, request: Request, ob_id: int) -> Response:
        """getFindingChartNames: in the order of their index (1, 2, ...)."""
        ob = _ob(request, ob_id)
        names = list(FindingChart.objects.filter(ob=ob).values_list("name", flat=True))
        return answer(names, ob.version)

    @extend_schema(
        operation_id="p2_finding_chart_add",
        request={"image/jpeg": OpenApiTypes.BINARY},
        parameters=[IF_MATCH],
        responses={201: STRINGS, **WRITE_ERRORS},
    )
    def post(self, request: Request, ob_id: int) -> Response:
        """addFindingChart: the raw JPEG (at most 1 MiB, 5 per OB), named by
        ``Content-Disposition``; 201 with the chart names."""
        ob = _writable_ob(request, ob_id)
        content = request.data.get("content", b"")
        found = _FILENAME.search(request.headers.get("Content-Disposition", ""))
        ob_parts.chart_add(
            ob_id=ob.pk,
            name=found[1] if found else "finding_chart.jpg",
            content=content,
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        ob.refresh_from_db()
        names = list(FindingChart.objects.filter(ob=ob).values_list("name", flat=True))
        return answer(names, ob.version, 201)


def _chart(ob: ObservationBlock, index: int) -> FindingChart:
    """p2 numbers an OB's charts from 1, in their order."""
    charts = list(FindingChart.objects.filter(ob=ob).only("pk"))
    if not 1 <= index <= len(charts):
        raise NotFound(f"OB {ob.pk} has {len(charts)} finding charts: no number {index}.")
    return FindingChart.objects.get(pk=charts[index - 1].pk)


class FindingChartView(P2View):
    @extend_schema(
        operation_id="p2_finding_chart",
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, **READ_ERRORS},
    )
    def get(self, request: Request, ob_id: int, chart_index: int) -> HttpResponse:
        """getFindingChart: the JPEG."""
        ob = _ob(request, ob_id)
        chart = _chart(ob, chart_index)
        response = HttpResponse(bytes(chart.content), content_type="image/jpeg")
        response["Content-Disposition"] = f'inline; filename="{chart.name}"'
        response["ETag"] = f'"{ob.version}"'
        return response

    @extend_schema(
        operation_id="p2_finding_chart_delete",
        parameters=[IF_MATCH],
        responses={204: NO_CONTENT, **COMMAND_ERRORS},
    )
    def delete(self, request: Request, ob_id: int, chart_index: int) -> HttpResponse:
        """deleteFindingChart: the later ones move down by one."""
        ob = _writable_ob(request, ob_id)
        chart = _chart(ob, chart_index)
        changed = ob_parts.chart_remove(
            chart_id=chart.pk,
            ob_id=ob.pk,
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        return no_content(changed.version)


# ---------------------------------------------------------------------------------------------
# Ephemeris file
# ---------------------------------------------------------------------------------------------


class TextParser(BaseParser):
    """An ephemeris file's raw bytes as ``{"content": bytes}`` (at most one byte over the limit
    is read: the service says it is too large)."""

    media_type = "text/plain"

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, bytes]:
        limit = ob_parts.MAX_EPHEMERIS_BYTES + 1
        return {"content": stream.read(limit) if stream is not None else b""}


class EphemerisView(P2View):
    parser_classes = [TextParser]

    @extend_schema(
        operation_id="p2_ephemeris",
        responses={(200, "text/plain"): OpenApiTypes.STR, **READ_ERRORS},
    )
    def get(self, request: Request, ob_id: int) -> HttpResponse:
        """getEphemerisFile: the text; empty when the OB has none (as p2 answers)."""
        ob = _ob(request, ob_id)
        eph = EphemerisFile.objects.filter(ob=ob).first()
        response = HttpResponse(
            eph.content if eph else "", content_type="text/plain; charset=utf-8"
        )
        if eph is not None:
            response["Content-Disposition"] = f'inline; filename="{eph.file_name}"'
        response["ETag"] = f'"{ob.version}"'
        return response

    @extend_schema(
        operation_id="p2_ephemeris_save",
        request={"text/plain": OpenApiTypes.STR},
        parameters=[IF_MATCH],
        responses={204: NO_CONTENT, **WRITE_ERRORS},
    )
    def put(self, request: Request, ob_id: int) -> HttpResponse:
        """saveEphemerisFile: the raw text (UTF-8, at most 1 MiB), named by
        ``Content-Disposition``; replaces any earlier one."""
        ob = _writable_ob(request, ob_id)
        content = request.data.get("content", b"")
        found = _FILENAME.search(request.headers.get("Content-Disposition", ""))
        ob_parts.ephemeris_save(
            ob_id=ob.pk,
            file_name=found[1] if found else "ephemeris.txt",
            content=content,
            actor=_actor(request),
            expected_version=expected_version(request),
        )
        ob.refresh_from_db(fields=["version"])
        return no_content(ob.version)

    @extend_schema(
        operation_id="p2_ephemeris_delete",
        parameters=[IF_MATCH],
        responses={204: NO_CONTENT, **COMMAND_ERRORS},
    )
    def delete(self, request: Request, ob_id: int) -> HttpResponse:
        """deleteEphemerisFile."""
        ob = _writable_ob(request, ob_id)
        changed = ob_parts.ephemeris_delete(
            ob_id=ob.pk, actor=_actor(request), expected_version=expected_version(request)
        )
        return no_content(changed.version)


# ---------------------------------------------------------------------------------------------
# Instrument packages
