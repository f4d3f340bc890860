"""Staff exports of the accepted schedule (included under ``schedule/export/``; no app
namespace, so it can sit beside the staff pages' ``scheduling/urls.py``)."""

from django.urls import path

from scheduling import views_export

urlpatterns = [
    path(
        "periods/<int:number>/nights.csv",
        views_export.period_nights_csv,
        name="schedule_period_nights_csv",
    ),
]
