"""What the Phase 2 write views share: the acting user, the If-Match parameters of the schema,
the lookups that decide 404 / 403 / 409 before any input is read, and the object answers with
their ``ETag``.

Order of the checks, as in the Phase 1 API: an object the user may not read is a 404 (never a
403); one they may read but not change is a 403 (staff editing, an investigator accepting);
one that may not change now is a 409 (a submitted service-mode OB); only then is the input
read (400), and the service checks all of it again under its lock, with ``If-Match`` (412).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from dataflow.errors import InvalidInput
from dataflow.permissions import signed_in
from observations import access, selectors, services
from observations.api.read import (
    Phase2ContainerSerializer,
    Phase2OBSerializer,
    Phase2OBViewSet,
)
from observations.models import ObservationBlock
from proposals.api.views import ERROR, READ_ERRORS, with_etag

WRITE_ERRORS = {400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR, 412: ERROR}
COMMAND_ERRORS = {**READ_ERRORS, 403: ERROR, 409: ERROR, 412: ERROR}  # commands without input


def if_match(what: str) -> OpenApiParameter:
    return OpenApiParameter(
        "If-Match",
        str,
        OpenApiParameter.HEADER,
        required=False,
        description=(
            f'{what}, e.g. "7". If present and stale the write is refused with 412 and nothing '
            "changes; if absent the write is accepted."
        ),
    )


IF_MATCH_OB = if_match("The OB's ETag")
IF_MATCH_CONTAINER = if_match("The container's ETag")


def actor(request: Request) -> User:
    return signed_in(request.user)


@contextmanager
def errors_named(keys: Mapping[str, str]) -> Iterator[None]:
    """Name a service's field errors as the request named the fields (``target.ra``)."""
    try:
        yield
    except InvalidInput as exc:
        raise InvalidInput(exc.message, {keys.get(k, k): m for k, m in exc.errors.items()}) from exc


def ob_answer(request: Request, ob_id: int, code: int = status.HTTP_200_OK) -> Response:
    """The OB as the read side answers it, with its version as ``ETag``."""
    detail = selectors.ob_detail(selectors.visible_ob(request.user, ob_id))
    data = Phase2OBSerializer(detail).data
    return with_etag(Response(data, status=code), detail.ob.version)


def container_answer(
    request: Request, container_id: int, code: int = status.HTTP_200_OK
) -> Response:
    """The container as the read side answers it, with its version as ``ETag``."""
    container = selectors.visible_container(request.user, container_id)
    items = selectors.container_items(container)
    data = Phase2ContainerSerializer(container, context={"items": items}).data
    return with_etag(Response(data, status=code), container.version)


class OBViews(Phase2OBViewSet):
    """The read side's OB viewset with the write side's lookups; the write modules extend it
    and ``observations.api`` joins them into the one viewset of ``phase2/obs``."""

    def _writable(self, ob_id: str) -> ObservationBlock:
        """An OB the user may change (an investigator of its open run), whatever its status."""
        ob = self._ob(ob_id)
        access.ensure_may_write(self.request.user, ob.run)
        return ob

    def _editable(self, ob_id: str) -> ObservationBlock:
        """An OB whose content the user may change now (409 when its status forbids it)."""
        ob = self._writable(ob_id)
        services.ensure_may_edit_ob(ob, ob.run, actor(self.request))
        return ob

    def _reviewable(self, ob_id: str) -> ObservationBlock:
        """An OB staff may review (accept, send back, waive)."""
        ob = self._ob(ob_id)
        access.ensure_may_review(self.request.user, ob.run)
        return ob
