"""Phase 2 pages under /phase2/: the astronomers' run trees and OB editor (``views``), the
OBs' visibility plots (``urls_visibility``) and the staff review queue (``urls_review``)."""

from django.urls import URLPattern, URLResolver, path

from observations.urls_review import urlpatterns as review_urls
from observations.urls_visibility import urlpatterns as visibility_urls
from observations.views import obs, runs

app_name = "phase2"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", runs.runs, name="runs"),
    path("runs/<int:phase2_run_id>/", runs.run_tree, name="run"),
    path("runs/<int:phase2_run_id>/create/", runs.item_create, name="item_create"),
    path("runs/<int:phase2_run_id>/items/", runs.tree_action, name="tree_action"),
    path("containers/<int:container_id>/", runs.container_detail, name="container"),
    path("containers/<int:container_id>/edit/", runs.container_edit, name="container_edit"),
    path("containers/<int:container_id>/verify/", runs.container_verify, name="container_verify"),
    path("containers/<int:container_id>/submit/", runs.container_submit, name="container_submit"),
    path("obs/<int:ob_id>/", obs.ob_detail, name="ob"),
    path("obs/<int:ob_id>/copy-target/", obs.copy_target, name="ob_copy_target"),
    path("obs/<int:ob_id>/verify/", obs.ob_verify, name="ob_verify"),
    path("obs/<int:ob_id>/submit/", obs.ob_submit, name="ob_submit"),
    path("obs/<int:ob_id>/revise/", obs.ob_revise, name="ob_revise"),
    path("obs/<int:ob_id>/templates/add/", obs.template_add, name="template_add"),
    path("obs/<int:ob_id>/templates/save/", obs.template_save, name="template_save"),
    path("obs/<int:ob_id>/templates/delete/", obs.template_delete, name="template_delete"),
    path("obs/<int:ob_id>/templates/move/", obs.template_move, name="template_move"),
    path("obs/<int:ob_id>/windows/absolute/", obs.absolute_windows, name="absolute_windows"),
    path("obs/<int:ob_id>/windows/sidereal/", obs.sidereal_windows, name="sidereal_windows"),
    path("obs/<int:ob_id>/charts/add/", obs.chart_add, name="chart_add"),
    path("obs/<int:ob_id>/charts/remove/", obs.chart_remove, name="chart_remove"),
    path("obs/<int:ob_id>/charts/<int:chart_index>/", obs.chart_image, name="chart_image"),
    *visibility_urls,
    *review_urls,
]
