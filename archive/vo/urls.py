"""Virtual Observatory services under /vo/: SCS, SIA 2.0, TAP (sync, async), VOSI, DataLink."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
