"""The outcome letter's page and PDF, included by ``proposals.urls`` (names ``proposals:outcome``
and ``proposals:outcome_pdf``)."""

from django.urls import path

from proposals.review import views_outcome, views_team

urlpatterns = [
    path("<int:pk>/outcome/", views_outcome.outcome, name="outcome"),
    path("<int:pk>/outcome.pdf", views_outcome.outcome_pdf, name="outcome_pdf"),
    path("<int:pk>/review-delegate/", views_team.review_delegate, name="review_delegate"),
]
