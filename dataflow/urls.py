from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dataflow import views as project_views
from dataflow.accounts.api import views as accounts_api
from dataflow.api import router

urlpatterns = [
    path("", project_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("dataflow.accounts.urls")),
    path("proposals/", include("proposals.urls")),
    path("review/", include("proposals.review.urls")),
    path("schedule/", include("scheduling.urls")),
    path("phase2/", include("observations.urls")),
    path("schedule/export/", include("scheduling.urls_export")),
    path("night/", include("scheduling.urls_night")),
    # The night log (namespace "nightlog": night/<telescope>/<YYYY-MM-DD>/log/, .csv, .pdf),
    # beside the night console's include of scheduling.urls_night (namespace "night").
    path("night/", include("scheduling.urls_nightlog")),
    path("archive/", include("archive.urls")),
    path("archive/staff/", include("archive.urls_staff")),
    path("vo/", include("archive.vo.urls")),
    # ESO's p2 contract (p2api clients): /p2/api/login and /p2/api/v1/...
    path("p2/", include("observations.p2.urls")),
    path("api/v1/profile/", accounts_api.ProfileAPIView.as_view(), name="api-profile"),
    path("api/v1/", include(router.urls)),
    path("api/v1/token/", accounts_api.ApiTokenView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Last under /api/: whatever no API view matched is a JSON 404, also with DEBUG on.
    re_path(r"^api/(?P<unknown>.*)$", project_views.api_not_found, name="api-not-found"),
    path("favicon.ico", project_views.favicon, name="favicon"),
]
# No MEDIA_URL route, not even with DEBUG: uploads (final PDFs, figures) are private and served
# only by views that check who may see them.

handler400 = "dataflow.views.bad_request"
handler403 = "dataflow.views.permission_denied"
handler404 = "dataflow.views.page_not_found"
handler500 = "dataflow.views.server_error"
