"""Domain exceptions and the one DRF handler that maps them to HTTP statuses.

Every API error is JSON: ``{"detail": "...", "errors": {field: [messages]}}`` (errors optional).
"""

from http import HTTPStatus as status
from typing import Any


class DomainError(Exception):
    """A rule of the domain refused the request."""

    status_code = status.BAD_REQUEST

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(DomainError):
    status_code = status.BAD_REQUEST


class NotAllowed(DomainError):
    status_code = status.FORBIDDEN


class TransitionNotAllowed(DomainError):
    status_code = status.CONFLICT


class Frozen(DomainError):
    """The object can no longer be edited (e.g. a submitted proposal)."""

    status_code = status.CONFLICT


class StaleVersion(DomainError):
    """If-Match did not match the current ETag: someone else changed the object."""

    status_code = status.PRECONDITION_FAILED


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's EXCEPTION_HANDLER: domain errors and validation errors as JSON with field messages."""
    from django.core.exceptions import ValidationError as DjangoValidationError
    from rest_framework.exceptions import ValidationError as DRFValidationError
    from rest_framework.response import Response
    from rest_framework.views import exception_handler

    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"detail": exc.message}
        if exc.errors:
            body["errors"] = exc.errors
        return Response(body, status=int(exc.status_code))
    if isinstance(exc, DjangoValidationError):
        exc = DRFValidationError(
            detail=exc.message_dict
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
    response = exception_handler(exc, context)
    if response is not None and isinstance(exc, DRFValidationError):
        data = response.data
        if isinstance(data, list):
            data = {"non_field_errors": data}
        response.data = {"detail": "Invalid input.", "errors": data}
    return response
