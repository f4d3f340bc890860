"""Under /api/, an exception a view did not handle is answered as JSON, also with DEBUG on.

DRF answers its own exceptions (and the domain errors, through ``dataflow.errors``) and re-raises
the rest; Django would then answer with an HTML page (its debug page under DEBUG). This answers
them as the API's JSON instead: 404/403/400 for Django's own exceptions, and for anything else a
500 with a body that reveals nothing, logged with its traceback like Django logs a 500.
"""

import logging
from collections.abc import Callable

from django.core import signals
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.log import log_response

from dataflow.views import is_api, json_error


class ApiErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None  # pages: Django's handlers and templates
        if isinstance(exception, Http404):
            return json_error(404, "Not found.")
        if isinstance(exception, PermissionDenied):
            return json_error(403, "You do not have permission to perform this action.")
        if isinstance(exception, SuspiciousOperation):
            security_logger = logging.getLogger(f"django.security.{type(exception).__name__}")
            security_logger.error(str(exception), extra={"status_code": 400, "request": request})
            return json_error(400, "Bad request.")
        if isinstance(exception, BadRequest):
            return json_error(400, "Bad request.")
        # As Django does for an uncaught exception: error reporters listen to this signal.
        signals.got_request_exception.send(sender=None, request=request)
        response = json_error(500, "Internal server error.")
        # Django's own logging of a 500: once, with the traceback, on "django.request".
        log_response(
            "Internal Server Error: %s",
            request.path,
            response=response,
            request=request,
            exception=exception,
        )
        return response
