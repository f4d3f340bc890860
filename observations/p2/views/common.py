"""Helpers of the p2 views: the actor, lookups through the selectors (someone else's object
is a 404), answers with ETags, the schema's shared parameters."""

from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from dataflow.errors import InvalidInput
from dataflow.permissions import signed_in
from observations import access, selectors
from observations.models import (
    Container,
    ObservationBlock,
)
from observations.p2 import shapes
from observations.p2.transport import (
    ERROR,
    answer,
    checked_id,
)

NIGHT = OpenApiParameter(
    "night", OpenApiTypes.DATE, OpenApiParameter.QUERY, required=False, description="YYYY-MM-DD"
)
STRINGS = {"type": "array", "items": {"type": "string"}}
COMMAND_ERRORS = {401: ERROR, 403: ERROR, 404: ERROR, 409: ERROR, 412: ERROR}


def _actor(request: Request) -> User:
    return signed_in(request.user)


def _valid(serializer: Serializer[Any]) -> Any:
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _ob(request: Request, ob_id: int) -> ObservationBlock:
    return selectors.visible_ob(request.user, checked_id(ob_id))


def _container(request: Request, container_id: int) -> Container:
    return selectors.visible_container(request.user, checked_id(container_id))


def _writable_ob(request: Request, ob_id: int) -> ObservationBlock:
    """An OB the user may change (403 for staff, who read it), checked before the input."""
    ob = _ob(request, ob_id)
    access.ensure_may_write(request.user, ob.run)
    return ob


def _writable_container(request: Request, container_id: int) -> Container:
    container = _container(request, container_id)
    access.ensure_may_write(request.user, container.run)
    return container


def _named(keys: dict[str, str], exc: InvalidInput) -> InvalidInput:
    return InvalidInput(exc.message, {keys.get(k, k): m for k, m in exc.errors.items()})


def ob_answer(request: Request, ob_id: int, code: int = 200) -> Response:
    ob = _ob(request, ob_id)
    return answer(shapes.ob_json(ob), ob.version, code)


def container_answer(request: Request, container_id: int, code: int = 200) -> Response:
    container = _container(request, container_id)
    items = selectors.container_items(container)
    return answer(shapes.container_json(container, items), container.version, code)


# ---------------------------------------------------------------------------------------------
# Log-in, user, runs
