"""The Celery application: broker and eager mode come from Django settings (environment)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataflow.settings.dev")

app = Celery("dataflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
