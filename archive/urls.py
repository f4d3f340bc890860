"""Archive pages: search, file and header views, basket, download requests."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
