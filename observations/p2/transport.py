"""The transport rules ESO's ``p2api`` client imposes (``../shared/P2API.md``), scoped to the
p2 views: Bearer tokens only (no session, so no CSRF), JSON always rendered whatever ``Accept``
says, ``{"error": "..."}`` on every error, ``ETag`` = the object's version, ``If-Match`` read
back verbatim, and 204 answers as ``text/plain`` (the client reads ``Content-Type`` of every
answer, and DRF drops it from an empty one).
"""

import re
from collections.abc import Iterable, Mapping
from typing import IO, Any

from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dataflow.accounts.auth import BearerTokenAuthentication
from dataflow.errors import StaleVersion, api_exception_handler
from observations.ob_parts import MAX_CHART_BYTES

# The largest key any table holds; a bigger id in a path or body names nothing (404 or 400,
# never a database overflow).
MAX_ID = 2**63 - 1


class P2ErrorSerializer(serializers.Serializer[Any]):
    error = serializers.CharField(help_text="What went wrong and what to change")


ERROR = OpenApiResponse(response=P2ErrorSerializer, description='{"error": "message"}')
READ_ERRORS = {401: ERROR, 404: ERROR}
WRITE_ERRORS = {400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR, 412: ERROR, 415: ERROR}
NO_CONTENT = OpenApiResponse(description="Done (empty text/plain body)")

IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description='The ETag of the last read, e.g. "7"; stale: 412 and nothing changes.',
)


def p2_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The project's handler (domain errors to their statuses), its body as p2's
    ``{"error": "message"}``, the field messages appended (p2 scripts print ``error``)."""
    if isinstance(exc, ObjectDoesNotExist):
        exc = NotFound("Not found (or not yours).")
    response = api_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data if isinstance(response.data, dict) else {"detail": response.data}
    message = str(data.get("detail", "Request refused."))
    errors = data.get("errors") or {}
    details = [f"{field}: {m}" for field, messages in errors.items() for m in messages]
    response.data = {"error": " ".join([message, *details]) if details else message}
    return response


class FirstRendererNegotiation(DefaultContentNegotiation):
    """Answer with the view's first renderer whatever ``Accept`` says: an error of a view that
    serves a JPEG is still JSON, and nothing is ever a 406."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


class JpegParser(BaseParser):
    """A finding chart's raw bytes as ``{"content": bytes}`` (at most one byte over the limit
    is read: the service says it is too large)."""

    media_type = "image/jpeg"

    def parse(
        self,
        stream: IO[bytes] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, bytes]:
        return {"content": stream.read(MAX_CHART_BYTES + 1) if stream is not None else b""}


class P2View(APIView):
    """A view of the p2 layer: Bearer token, JSON in and out, p2's error shape."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRendererNegotiation

    def get_exception_handler(self) -> Any:
        return p2_exception_handler


def checked_id(value: int) -> int:
    """A path id; one beyond any key names nothing."""
    if value > MAX_ID:
        raise NotFound("Not found (or not yours).")
    return value


def etag(version: int) -> str:
    return f'"{version}"'


def answer(data: Any, version: int | None = None, code: int = 200) -> Response:
    response = Response(data, status=code)
    if version is not None:
        response["ETag"] = etag(version)
    return response


def no_content(version: int | None = None) -> HttpResponse:
    """204 as text/plain: the client reads the Content-Type of every answer."""
    response = HttpResponse(status=204, content_type="text/plain")
    if version is not None:
        response["ETag"] = etag(version)
    return response


_ETAG = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')


def expected_version(request: Request) -> int | None:
    """The version the client sends back in ``If-Match`` (verbatim: quotes included); None
    when absent or ``*``."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() in ("", "*"):
        return None
    match = _ETAG.match(raw.strip())
    if match is None:
        raise StaleVersion(f"If-Match {raw!r} is not an ETag we sent: reload and try again.")
    return int(match[1])
