"""The night log of a telescope (operators and staff), included under ``night/`` beside the
night console (``scheduling/urls_night.py``, namespace ``night``); its own namespace,
``nightlog``. ``<night>`` is the local evening date, YYYY-MM-DD (``tonight``: the night under
way at the telescope)."""

from django.urls import path

from scheduling import views_nightlog

app_name = "nightlog"

urlpatterns = [
    path("<int:telescope>/<str:night>/log/", views_nightlog.log_page, name="log"),
    path("<int:telescope>/<str:night>/log.csv", views_nightlog.log_csv, name="log_csv"),
    path("<int:telescope>/<str:night>/log.pdf", views_nightlog.log_pdf, name="log_pdf"),
    path("<int:telescope>/<str:night>/log/notes/", views_nightlog.note_add, name="note_add"),
    path("<int:telescope>/<str:night>/log/refund/", views_nightlog.refund, name="refund"),
    path("<int:telescope>/<str:night>/log/close/", views_nightlog.close, name="close"),
]
