"""Tests: SQLite by default, PostgreSQL when DATABASE_URL says so (CI); Celery eager unless a
test starts a real worker."""

import os
import tempfile
from pathlib import Path

from dataflow.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A real Celery worker started by a test shares the media folder and writes its mail to files.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", tempfile.gettempdir())
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True  # tests see task errors
# runserver and the test client serve static files themselves; WhiteNoise is for production.
MIDDLEWARE = [m for m in MIDDLEWARE if "whitenoise" not in m]  # noqa: F405
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or tempfile.mkdtemp(prefix="dataflow-test-media-"))
# Raw frames land in a temporary directory (a test worker started by a test shares it through
# the environment); tests that count files point it at their own tmp_path.
RAW_DATA_LANDING = Path(
    os.environ.get("DATAFLOW_RAW_DATA_LANDING") or tempfile.mkdtemp(prefix="dataflow-test-landing-")
)
ARCHIVE_ROOT = Path(
    os.environ.get("DATAFLOW_ARCHIVE_ROOT") or tempfile.mkdtemp(prefix="dataflow-test-archive-")
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
