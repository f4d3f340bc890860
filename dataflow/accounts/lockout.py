"""Log-in throttling with django-axes, for the login pages and the API token endpoint.

Axes counts failed log-ins per username and client address (``AXES_LOCKOUT_PARAMETERS``);
at ``AXES_FAILURE_LIMIT`` it refuses that pair, right password or not, until
``AXES_COOLOFF_TIME`` has passed since the last attempt. Pages get the lock-out through
``AxesMiddleware`` and ``lockout_page``; the token endpoint, whose DRF request the middleware
does not see, asks ``is_locked_out`` and answers 429 itself.
"""

import math
from typing import Any

from axes.backends import AxesStandaloneBackend  # type: ignore[import-untyped]
from axes.helpers import get_client_ip_address, get_cool_off  # type: ignore[import-untyped]
from axes.utils import reset  # type: ignore[import-untyped]
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class LockoutBackend(AxesStandaloneBackend):
    """Axes' lock-out check, skipped for ``authenticate()`` calls that come without a request.

    Only the test client's ``login()`` and shell scripts call it so: axes cannot count an
    attempt without a request, and would raise instead of answering.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is not None:
            # Raises PermissionDenied when locked out; never logs anyone in itself.
            super().authenticate(request, username, password, **kwargs)
        return None


def cool_off_seconds(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_message(request: HttpRequest | None = None) -> str:
    minutes = math.ceil(cool_off_seconds(request) / 60)
    return (
        f"Too many failed log-in attempts: try again in {minutes} minutes "
        "(each attempt meanwhile starts the wait again)."
    )


def lockout_page(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The answer to a locked-out page log-in (``AXES_LOCKOUT_CALLABLE``): 429 with a page."""
    return render(
        request, "accounts/locked_out.html", {"message": lockout_message(request)}, status=429
    )


def is_locked_out(request: Any) -> bool:
    """Whether axes refused the log-in attempt that ``request`` just made (a DRF request too)."""
    return bool(getattr(request, "axes_locked_out", False))


def failures_reset(request: Any, *, username: str) -> None:
    """Forget the failed attempts of ``username`` from this client, as axes does after a page
    log-in (``AXES_RESET_ON_SUCCESS``); the token endpoint logs in without a session, so
    without the ``user_logged_in`` signal that triggers it."""
    reset(ip=get_client_ip_address(request), username=username)
