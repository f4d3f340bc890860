"""Reviewer pages: home, grading, conflicts."""

from django.urls import URLPattern, path

from proposals.review import views_reviewer as views

urlpatterns: list[URLPattern] = [
    path("", views.home, name="home"),
    path("assignments/<int:assignment_id>/", views.grade, name="grade"),
    path("assignments/<int:assignment_id>/pdf/", views.pdf, name="pdf"),
    path(
        "assignments/<int:assignment_id>/conflict/",
        views.declare_conflict,
        name="declare_conflict",
    ),
]
