"""Archive staff pages: the data transfer monitor and the quarantine."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
