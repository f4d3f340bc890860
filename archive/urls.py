"""Archive pages: search, file and header views, basket, download requests, delegates."""

from django.urls import URLPattern, URLResolver, path

from archive import views

app_name = "archive"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.search, name="search"),
    path("files/<int:file_id>/", views.file_detail, name="file"),
    path("files/<int:file_id>/download/", views.file_download, name="file_download"),
    path("basket/", views.basket, name="basket"),
    path("basket/add/", views.basket_add, name="basket_add"),
    path("basket/remove/", views.basket_remove, name="basket_remove"),
    path("requests/", views.requests, name="requests"),
    path("requests/<int:download_id>/", views.request_detail, name="request"),
    path("requests/<int:download_id>/download.zip", views.request_zip, name="request_zip"),
    path("requests/<int:download_id>/download.sh", views.request_script, name="request_script"),
    path("delegates/", views.delegates_page, name="delegates"),
    path("delegates/programmes/<int:proposal_id>/add/", views.delegate_add, name="delegate_add"),
    path("delegates/<int:delegate_id>/remove/", views.delegate_remove, name="delegate_remove"),
]
