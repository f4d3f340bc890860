"""The project's URLconf plus views that fail, for the error-page tests only."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dataflow import urls


class BrokenApiView(APIView):
    permission_classes = []

    def get(self, request: Request) -> Response:
        raise RuntimeError("planted API failure")


def broken_plain_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("planted failure")


def forbidden_page(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("planted refusal")


def missing_page(request: HttpRequest) -> HttpResponse:
    raise Http404("planted absence")


urlpatterns = [
    path("api/v1/broken/", BrokenApiView.as_view()),
    path("api/v1/broken-plain/", broken_plain_view),
    path("api/v1/forbidden-plain/", forbidden_page),
    path("api/v1/missing-plain/", missing_page),
    path("broken/", broken_plain_view),
    path("forbidden/", forbidden_page),
    *urls.urlpatterns,
]
handler403 = getattr(urls, "handler403", "django.views.defaults.permission_denied")
handler404 = getattr(urls, "handler404", "django.views.defaults.page_not_found")
handler500 = getattr(urls, "handler500", "django.views.defaults.server_error")
