"""Virtual Observatory services under /vo/: SCS, SIA 2.0, TAP (sync, async), VOSI, DataLink.

Paths have no trailing slash: VO clients append ``/sync``, ``/capabilities``... to a base URL.
"""

from django.urls import URLPattern, URLResolver, path

from archive.vo import tap, views

app_name = "vo"

urlpatterns: list[URLPattern | URLResolver] = [
    path("scs", views.scs, name="scs"),
    path("sia/query", views.sia_query, name="sia-query"),
    path("sia/capabilities", views.sia_capabilities, name="sia-capabilities"),
    path("sia/availability", views.sia_availability, name="sia-availability"),
    path("tap", tap.tap_root, name="tap"),
    path("tap/sync", tap.sync, name="tap-sync"),
    path("tap/async", tap.async_jobs, name="tap-async"),
    path("tap/async/<uuid:tap_job_id>", tap.job_view, name="tap-job"),
    path("tap/async/<uuid:tap_job_id>/results/result", tap.job_result, name="tap-job-result"),
    path("tap/async/<uuid:tap_job_id>/<str:job_item>", tap.job_item, name="tap-job-item"),
    path("tap/capabilities", tap.capabilities, name="tap-capabilities"),
    path("tap/tables", tap.tables, name="tap-tables"),
    path("tap/tables/<str:table_name>", tap.table, name="tap-table"),
    path("tap/availability", tap.availability, name="tap-availability"),
    path("datalink", views.datalink, name="datalink"),
    path("datalink/download/<str:dp_id>", views.download, name="download"),
]
