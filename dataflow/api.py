"""The DRF router: every app registers its resources here."""

from rest_framework.routers import DefaultRouter

from proposals.api.views import PeriodViewSet, ProposalViewSet, TelescopeViewSet

router = DefaultRouter()
router.register("periods", PeriodViewSet, basename="period")
router.register("telescopes", TelescopeViewSet, basename="telescope")
router.register("proposals", ProposalViewSet, basename="proposal")
