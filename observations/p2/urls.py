"""The p2-compatible API (ESO p2api client contract) under /p2/: ``api/login`` and
``api/v1/...``, the paths as the client builds them (``observations.p2.views``)."""

from django.urls import URLPattern, URLResolver, path, re_path

from observations.p2 import views as v

OB = "api/v1/obsBlocks/<int:ob_id>"
CONTAINER = "api/v1/containers/<int:container_id>"
PACKAGE = "api/v1/instrumentPackages/<str:instrument>/<str:ip_version>"

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/login", v.LoginView.as_view(), name="p2-login"),
    path("api/v1/authenticatedUser", v.UserView.as_view(), name="p2-user"),
    path("api/v1/obsRuns", v.RunsView.as_view(), name="p2-runs"),
    path("api/v1/obsRuns/<int:phase2_run_id>", v.RunView.as_view(), name="p2-run"),
    path(CONTAINER, v.ContainerView.as_view(), name="p2-container"),
    path(f"{CONTAINER}/items", v.ItemsView.as_view(), name="p2-items"),
    path(f"{CONTAINER}/items/append", v.AppendView.as_view(), name="p2-items-append"),
    path(
        f"{CONTAINER}/items/executionTimes",
        v.ContainerExecutionTimesView.as_view(),
        name="p2-items-execution-times",
    ),
    path(f"{CONTAINER}/verify", v.ContainerVerifyView.as_view(), name="p2-container-verify"),
    path(f"{CONTAINER}/revise", v.ContainerReviseView.as_view(), name="p2-container-revise"),
    path(f"{CONTAINER}/schedule", v.ContainerScheduleView.as_view(), name="p2-container-schedule"),
    path(OB, v.OBView.as_view(), name="p2-ob"),
    path(f"{OB}/verify", v.OBVerifyView.as_view(), name="p2-ob-verify"),
    path(f"{OB}/revise", v.OBReviseView.as_view(), name="p2-ob-revise"),
    path(f"{OB}/duplicate", v.OBDuplicateView.as_view(), name="p2-ob-duplicate"),
    path(f"{OB}/executionTime", v.OBExecutionTimeView.as_view(), name="p2-ob-execution-time"),
    path(f"{OB}/schedule", v.OBScheduleView.as_view(), name="p2-ob-schedule"),
    path(f"{OB}/executions", v.OBExecutionsView.as_view(), name="p2-ob-executions"),
    path(f"{OB}/templates", v.TemplatesView.as_view(), name="p2-templates"),
    path(f"{OB}/templates/<int:template_id>", v.TemplateView.as_view(), name="p2-template"),
    path(
        f"{OB}/timeConstraints/absolute",
        v.AbsoluteWindowsView.as_view(),
        name="p2-absolute-windows",
    ),
    path(
        f"{OB}/timeConstraints/sidereal",
        v.SiderealWindowsView.as_view(),
        name="p2-sidereal-windows",
    ),
    path(f"{OB}/findingCharts", v.FindingChartsView.as_view(), name="p2-finding-charts"),
    path(
        f"{OB}/findingCharts/<int:chart_index>",
        v.FindingChartView.as_view(),
        name="p2-finding-chart",
    ),
    path(f"{OB}/ephemeris", v.EphemerisView.as_view(), name="p2-ephemeris"),
    # The client asks ".../instrumentPackages/FORS2/" with the trailing slash.
    path(
        "api/v1/instrumentPackages/<str:instrument>/", v.PackagesView.as_view(), name="p2-packages"
    ),
    path(f"{PACKAGE}/templateSignatures", v.SignaturesView.as_view(), name="p2-signatures"),
    path(
        f"{PACKAGE}/templateSignatures/<str:template_name>",
        v.SignatureView.as_view(),
        name="p2-signature",
    ),
    path(
        f"{PACKAGE}/instrumentConstraints",
        v.InstrumentConstraintsView.as_view(),
        name="p2-instrument-constraints",
    ),
    # Everything else p2 has (readme, exports, ...): a JSON 501.
    re_path(r"^api/v1/(?P<unsupported>.*)$", v.UnsupportedView.as_view(), name="p2-unsupported"),
]
