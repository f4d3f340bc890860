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

    def all_messages(self) -> list[str]:
        """The message and every field's messages, for logs and command lines."""
        return [self.message, *(f"{k}: {m}" for k, ms in self.errors.items() for m in ms)]


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
        response.data = {"detail": "Invalid input.", "errors": flat_errors(response.data)}
    return response


def flat_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation errors as ``{"field": [...]}``, nested keys joined with dots
    (``{"dates": {"0": [...]}}`` becomes ``{"dates.0": [...]}``), so every error has the
    documented shape."""
    if isinstance(data, dict):
        out: dict[str, list[str]] = {}
        for key, value in data.items():
            out.update(flat_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(data, list) and all(not isinstance(v, dict | list) for v in data):
        return {prefix or "non_field_errors": [str(v) for v in data]}
    if isinstance(data, list):
        out = {}
        for i, value in enumerate(data):
            if value:  # DRF puts {} for the items of a list that had no error
                out.update(flat_errors(value, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix or "non_field_errors": [str(data)]}
