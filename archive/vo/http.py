"""What every VO view shares: case-insensitive parameters, VOTable and XML responses, and
errors answered as the standards say (a VOTable, never Django's HTML page)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from archive.vo.auth import BadCredentials
from archive.vo.votable import CONTENT_TYPE, error_document

logger = logging.getLogger(__name__)
XML = "text/xml; charset=utf-8"

View = Callable[..., HttpResponseBase]


def params(request: HttpRequest) -> dict[str, list[str]]:
    """GET and POST parameters, names upper-cased (DALI: names are case-insensitive)."""
    merged: dict[str, list[str]] = {}
    sources = [request.GET]
    if request.method == "POST":
        sources.append(request.POST)
    for source in sources:
        for key in source:
            merged.setdefault(key.upper(), []).extend(source.getlist(key))
    return merged


def first(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[-1] if found else None


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def votable(body: str | Iterable[str], status: int = 200) -> HttpResponseBase:
    if isinstance(body, str):
        return HttpResponse(body, content_type=CONTENT_TYPE, status=status)
    return StreamingHttpResponse(body, content_type=CONTENT_TYPE, status=status)


def xml(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, content_type=XML, status=status)


def vo_error(message: str, status: int = 400) -> HttpResponseBase:
    response = votable(error_document(message), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="dataflow"'
    return response


def vo_view(
    methods: tuple[str, ...] = ("GET", "POST"),
    on_error: Callable[[str, int], HttpResponseBase] = vo_error,
) -> Callable[[View], View]:
    """A VO endpoint: its methods (405 otherwise), no CSRF (VO clients post forms without a
    token, and POSTs authenticate by token only), a bad token 401, a crash a logged error
    document instead of an HTML 500."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)
            if request.method not in allowed:
                response = on_error(f"{request.method} is not allowed here", 405)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except BadCredentials as failure:
                return vo_error(f"Authentication failed: {failure}", 401)
            except Exception:
                logger.exception("VO request failed: %s", request.get_full_path())
                return on_error("Internal error while answering the request", 500)

        return wrapper

    return decorate
