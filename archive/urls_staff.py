"""Archive staff pages: the data transfer monitor and the quarantine."""

from django.urls import URLPattern, URLResolver, path

from archive import views_staff

app_name = "archive_staff"

urlpatterns: list[URLPattern | URLResolver] = [
    path("monitor/", views_staff.monitor, name="monitor"),
    path("quarantine/", views_staff.quarantine, name="quarantine"),
    path(
        "quarantine/<int:quarantined_id>/resolve/",
        views_staff.quarantine_resolve,
        name="quarantine_resolve",
    ),
]
