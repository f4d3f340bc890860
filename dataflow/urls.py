from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dataflow.accounts import views as account_views
from dataflow.api import router

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="proposals:mine", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("dataflow.accounts.urls")),
    path("proposals/", include("proposals.urls")),
    path("api/v1/", include(router.urls)),
    path("api/v1/token/", account_views.ApiTokenView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
