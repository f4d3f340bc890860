"""The project's URLconf plus one page missing from the role matrix (see test_role_matrix)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from dataflow.urls import urlpatterns as project_urlpatterns


def secret_export(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse("nobody decided who may see this")


urlpatterns = [*project_urlpatterns, path("proposals/<int:pk>/secret-export/", secret_export)]
