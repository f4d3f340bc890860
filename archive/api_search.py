"""The archive search API: files by position, time, instrument, programme; downloads."""

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Nothing yet."""
