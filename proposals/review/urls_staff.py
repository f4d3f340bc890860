"""Chair and staff pages: the review overview, panels, rankings, allocation."""

from django.urls import URLPattern, path

from proposals.review import views_staff as views

urlpatterns: list[URLPattern] = [
    path("staff/", views.overview, name="overview"),
    path("staff/periods/<int:number>/", views.overview, name="overview"),
    path("staff/periods/<int:number>/start/", views.start, name="start"),
    path("staff/periods/<int:number>/panels/", views.panel_create, name="panel_create"),
    path("staff/periods/<int:number>/members/", views.member_add, name="member_add"),
    path("staff/periods/<int:number>/assign/", views.solve, name="solve"),
    path(
        "staff/conflicts/<int:conflict_id>/override/",
        views.conflict_override,
        name="conflict_override",
    ),
    path("panels/<int:panel_id>/", views.panel, name="panel"),
    path(
        "panels/<int:panel_id>/proposals/<int:proposal_id>/grade/",
        views.panel_grade,
        name="panel_grade",
    ),
    path("staff/periods/<int:number>/ranking/", views.ranking, name="ranking"),
    path(
        "staff/periods/<int:number>/ranking/pressure.png",
        views.pressure_png,
        name="pressure_png",
    ),
    path("staff/periods/<int:number>/allocation/", views.allocation, name="allocation"),
    path("staff/runs/<int:run_id>/decide/", views.run_decide, name="run_decide"),
    path(
        "staff/assignments/<int:assignment_id>/move/",
        views.assignment_move,
        name="assignment_move",
    ),
]
