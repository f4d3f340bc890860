"""The DRF router: every app registers its resources here."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
