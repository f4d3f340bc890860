"""The archive upload API: external products (Phase 3) with header validation."""

from rest_framework.routers import DefaultRouter


def register(router: DefaultRouter) -> None:
    """Nothing yet."""
