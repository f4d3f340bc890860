"""Project-wide views: error answers (JSON under /api/, styled pages elsewhere) and the favicon.

``urls.py`` names these as ``handler400/403/404/500``. Django calls those only with DEBUG off;
with DEBUG on (``make run``) it shows its technical pages instead, so the API gets its JSON
from a catch-all URL pattern (unknown paths) and from ``ApiErrorMiddleware`` (exceptions).
"""

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    JsonResponse,
)
from django.templatetags.static import static
from django.urls import Resolver404, resolve, reverse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def json_error(status: int, detail: str) -> JsonResponse:
    """The API's error body without field messages: ``{"detail": "..."}``."""
    return JsonResponse({"detail": detail}, status=status)


def _resolves_elsewhere(request: HttpRequest, path: str) -> bool:
    try:
        match = resolve(path, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return match.func is not api_not_found


@csrf_exempt  # it changes nothing; an HTML CSRF page must not answer an unknown API POST
def api_not_found(request: HttpRequest, unknown: str = "") -> HttpResponse:
    """Every path under /api/ that no API view matches (a non-numeric id, a typo): JSON 404.

    It also stands in for APPEND_SLASH, which it keeps from seeing these paths: a GET without
    the trailing slash is redirected to it, any other method is told (a redirect would turn it
    into a GET, and under DEBUG Django raises instead).
    """
    path = request.path_info
    if (
        settings.APPEND_SLASH
        and not path.endswith("/")
        and _resolves_elsewhere(request, f"{path}/")
    ):
        if request.method in ("GET", "HEAD"):
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
        return json_error(404, f"Not found. Did you mean {request.path}/ (with a trailing slash)?")
    return json_error(404, "Not found.")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(400, "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(403, "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(404, "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return json_error(500, "Internal server error.")
    return defaults.server_error(request)  # 500.html, rendered without any context


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page links: send them to the static icon."""
    # Not permanent: the static URL carries a content hash in production.
    return HttpResponseRedirect(static("favicon.svg"))


def home(request: HttpRequest) -> HttpResponse:
    """Every role lands where its next task is: staff on the review overview, night operators
    on the telescopes' consoles, reviewers on their assignments, astronomers (and anyone else)
    on their proposals."""
    from dataflow.permissions import is_operator, is_reviewer, is_staff_member

    if is_staff_member(request.user):
        return HttpResponseRedirect(reverse("review:overview"))
    if is_operator(request.user):
        return HttpResponseRedirect(reverse("night:home"))
    if is_reviewer(request.user):
        return HttpResponseRedirect(reverse("review:home"))
    return HttpResponseRedirect(reverse("proposals:mine"))
