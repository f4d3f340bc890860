from django.urls import path

from proposals import views

app_name = "proposals"

urlpatterns = [
    path("", views.my_proposals, name="mine"),
    path("invitations/<uuid:token>/accept/", views.accept_invitation, name="accept_invitation"),
]
