"""Staff pages of the long-term schedule under /schedule/."""

from django.urls import URLPattern, path

from scheduling import views, views_travel

app_name = "schedule"

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("periods/<int:number>/", views.period, name="period"),
    path("periods/<int:number>/jobs/", views.job_start, name="job_start"),
    path("periods/<int:number>/pins/", views.pin_add, name="pin_add"),
    path("pins/<int:pin_id>/remove/", views.pin_remove, name="pin_remove"),
    path("periods/<int:number>/links/", views.link_add, name="link_add"),
    path("links/<int:link_id>/remove/", views.link_remove, name="link_remove"),
    path("jobs/<int:job_id>/", views.job, name="job"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("versions/<int:version_id>/", views.version, name="version"),
    path("versions/<int:version_id>/accept/", views.version_accept, name="version_accept"),
    path("versions/<int:version_id>/pins/", views.pin_here, name="pin_here"),
    path(
        "versions/<int:version_id>/compare/<int:other_id>/",
        views.compare,
        name="compare",
    ),
    path("runs/<int:run_id>/travel/", views_travel.travel_page, name="travel"),
    path("arrivals/", views_travel.arrivals, name="arrivals"),
    path("arrivals.csv", views_travel.arrivals_csv, name="arrivals_csv"),
    path("travel/<int:request_id>/confirm/", views_travel.travel_confirm, name="travel_confirm"),
]
