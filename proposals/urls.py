from django.urls import include, path

from proposals import views
from scheduling import views_export as schedule_export

app_name = "proposals"

urlpatterns = [
    path("", views.my_proposals, name="mine"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/targets/add/", views.target_add, name="target_add"),
    path("<int:pk>/targets/<int:target_id>/edit/", views.target_edit, name="target_edit"),
    path("<int:pk>/targets/<int:target_id>/delete/", views.target_delete, name="target_delete"),
    path("<int:pk>/runs/add/", views.run_add, name="run_add"),
    path("<int:pk>/runs/<int:run_id>/edit/", views.run_edit, name="run_edit"),
    path("<int:pk>/runs/<int:run_id>/delete/", views.run_delete, name="run_delete"),
    path("<int:pk>/investigators/add/", views.coi_add, name="coi_add"),
    path("<int:pk>/investigators/<int:coi_id>/remove/", views.coi_remove, name="coi_remove"),
    path("<int:pk>/figures/add/", views.figure_add, name="figure_add"),
    path("<int:pk>/figures/<int:figure_id>/", views.figure_image, name="figure_image"),
    path("<int:pk>/figures/<int:figure_id>/delete/", views.figure_delete, name="figure_delete"),
    path("<int:pk>/verify/", views.verify, name="verify"),
    path("<int:pk>/pdf/", views.pdf, name="pdf"),
    path("<int:pk>/nights.ics", schedule_export.nights_ics, name="nights_ics"),
    path("", include("proposals.review.urls_outcome")),  # outcome, outcome_pdf
    path("<int:pk>/runs/<int:run_id>/visibility.png", views.run_visibility, name="run_visibility"),
    path("<int:pk>/submit/", views.submit, name="submit"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("invitations/<uuid:token>/accept/", views.accept_invitation, name="accept_invitation"),
    path("staff/", views.period_list, name="period_list"),
    path("staff/periods/<int:number>/", views.period_list, name="period_list"),
]
