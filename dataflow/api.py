"""The DRF router: every app registers its resources here."""

from rest_framework.routers import DefaultRouter

from archive import api_search as archive_search_api
from archive import api_upload as archive_upload_api
from observations import api as phase2_api
from proposals.api.views import PeriodViewSet, ProposalViewSet, TelescopeViewSet
from proposals.review.api import views as review_api
from scheduling import api as schedule_api
from scheduling import api_nightops as night_api


class Router(DefaultRouter):
    """No ``.json`` format-suffix routes: the API answers JSON (PDF and images by ``Accept``),
    and the suffix variants doubled every route without any view taking ``format``."""

    include_format_suffixes = False


router = Router()
router.register("periods", PeriodViewSet, basename="period")
router.register("telescopes", TelescopeViewSet, basename="telescope")
router.register("proposals", ProposalViewSet, basename="proposal")
review_api.register(router)
schedule_api.register(router)
phase2_api.register(router)
night_api.register(router)
archive_search_api.register(router)
archive_upload_api.register(router)
