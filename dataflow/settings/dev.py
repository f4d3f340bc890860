"""Local development: embedded SQLite, Celery tasks run eagerly, e-mails on the console."""

from dataflow.settings.base import *  # noqa: F403
from dataflow.settings.base import env_bool

DEBUG = env_bool("DEBUG", True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", True)
MIDDLEWARE = [m for m in MIDDLEWARE if "whitenoise" not in m]  # noqa: F405
