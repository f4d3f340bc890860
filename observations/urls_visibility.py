"""Phase 2 visibility URL patterns, included by ``observations.urls`` (namespace ``phase2``)."""

from django.urls import URLPattern, path

from observations import visibility_views as views

urlpatterns: list[URLPattern] = [
    path("obs/<int:ob_id>/visibility/night.png", views.night_png, name="ob_visibility_night"),
    path("obs/<int:ob_id>/visibility/period.png", views.period_png, name="ob_visibility_period"),
]
