"""The p2-compatible API (ESO p2api client contract) under /p2/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
