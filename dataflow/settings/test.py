"""Tests: SQLite by default, PostgreSQL when DATABASE_URL says so (CI); Celery eager unless a
test starts a real worker."""

import atexit
import os
import shutil
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
# Each pytest-xdist process (gw0, gw1, ...) queues its tasks on its own queue, and the real
# worker one of its tests starts consumes only that queue (it inherits the environment): two
# processes' workers on one broker never take each other's tasks.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("DATAFLOW_CELERY_QUEUE") or (
    f"dataflow-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
)
# runserver and the test client serve static files themselves; WhiteNoise is for production.
MIDDLEWARE = [m for m in MIDDLEWARE if "whitenoise" not in m]  # noqa: F405


def _temporary_dir(variable: str, prefix: str) -> Path:
    """The folder the environment variable names, else a new temporary one that is removed when
    the process that made it exits (not by a forked child)."""
    if given := os.environ.get(variable):
        return Path(given)
    made = tempfile.mkdtemp(prefix=prefix)
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(made, ignore_errors=True)

    atexit.register(remove)
    return Path(made)


MEDIA_ROOT = _temporary_dir("MEDIA_ROOT", "dataflow-test-media-")
# Raw frames land in a temporary directory (a test worker started by a test shares it through
# the environment); tests that count files point it at their own tmp_path.
RAW_DATA_LANDING = _temporary_dir("DATAFLOW_RAW_DATA_LANDING", "dataflow-test-landing-")
ARCHIVE_ROOT = _temporary_dir("DATAFLOW_ARCHIVE_ROOT", "dataflow-test-archive-")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
