"""Phase 2 review URL patterns, included by ``observations.urls`` (namespace ``phase2``):
staff's queue of submitted OBs, an OB's review page and its actions, a container's bulk
acceptance (``observations.views_review``)."""

from django.urls import URLPattern, path

from observations import views_review as views

urlpatterns: list[URLPattern] = [
    path("review/", views.queue, name="review_queue"),
    path("review/obs/<int:ob_id>/", views.ob_review, name="review_ob"),
    path("review/obs/<int:ob_id>/accept/", views.ob_accept, name="review_accept"),
    path("review/obs/<int:ob_id>/send-back/", views.ob_send_back, name="review_send_back"),
    path("review/obs/<int:ob_id>/waiver/", views.ob_waiver, name="review_waiver"),
    path(
        "review/containers/<int:container_id>/accept/",
        views.container_accept,
        name="review_container_accept",
    ),
]
