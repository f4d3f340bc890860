"""Settings shared by every environment; values that differ come from the environment."""

import datetime as dt
import os
from pathlib import Path

import dj_database_url

from dataflow.astro import offline  # noqa: F401  (astropy offline everywhere: no IERS download)

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "dataflow.accounts",
    "dataflow.observatory",
    "proposals",
    "observations",
    "scheduling",
    "archive",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dataflow.middleware.ApiErrorMiddleware",  # JSON for exceptions under /api/, even in DEBUG
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out page log-in into its 429 page
]

ROOT_URLCONF = "dataflow.urls"
WSGI_APPLICATION = "dataflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "dataflow" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dataflow.accounts.context.roles",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # make run: a write transaction takes the write lock when it begins, so a concurrent writer
    # waits for it (up to 20 s) as on PostgreSQL; with SQLite's deferred transactions two
    # writers that both read first fail at once with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Log-in throttling with django-axes, for the log-in pages and the API token endpoint
# (dataflow/accounts/lockout.py):
AUTHENTICATION_BACKENDS = [
    "dataflow.accounts.lockout.LockoutBackend",  # refuses a locked-out username before checking
    "django.contrib.auth.backends.ModelBackend",
]
# Failed log-ins of one username from one address that lock that pair out.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
# How long a lock-out lasts, counted from the last attempt.
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
# Counted per username and client address: guesses from elsewhere do not lock a user out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A successful log-in forgets that pair's failures.
AXES_RESET_ON_SUCCESS = True
# An attempt during a lock-out, even with the right password, starts the wait again.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
# The page a locked-out log-in gets (429); the token endpoint answers JSON itself.
AXES_LOCKOUT_CALLABLE = "dataflow.accounts.lockout.lockout_page"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"  # each role lands on its next task (dataflow.views.home)
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
# The landing area: completed executions' raw FITS frames and the nights' calibrations are
# written here (observations.rawdata), for the archive's ingestion to take. Production sets
# DATAFLOW_RAW_DATA_LANDING; development uses var/landing/ of the project (git-ignored).
RAW_DATA_LANDING = Path(os.environ.get("DATAFLOW_RAW_DATA_LANDING") or BASE_DIR / "var" / "landing")
# The archive's storage: ingested files under files/, refused ones under quarantine/, prepared
# downloads and TAP results under their own folders. Production sets DATAFLOW_ARCHIVE_ROOT.
ARCHIVE_ROOT = Path(os.environ.get("DATAFLOW_ARCHIVE_ROOT") or BASE_DIR / "var" / "archive")
# Proprietary period in months by proposal type (ESO: typically 12); calibrations are public
# at once. Headers and metadata are public as at ESO unless ARCHIVE_HEADERS_PUBLIC is off.
ARCHIVE_PROPRIETARY_MONTHS = {"default": 12, "large": 12, "too": 6, "ddt": 6, "calibration": 0}
ARCHIVE_HEADERS_PUBLIC = os.environ.get("DATAFLOW_ARCHIVE_HEADERS_PUBLIC", "1") == "1"

# Uploads: figures are checked by content (Pillow), and size-limited here.
FIGURE_MAX_BYTES = int(os.environ.get("FIGURE_MAX_BYTES", str(5 * 1024 * 1024)))
# Pixels declared in the header, checked before decoding (a tiny PNG can declare 20000 × 20000).
# Keep it below Pillow's Image.MAX_IMAGE_PIXELS (about 89 million) to quote the exact size.
FIGURE_MAX_PIXELS = int(os.environ.get("FIGURE_MAX_PIXELS", str(50_000_000)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# The platform's public address, for links in e-mails.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "dataflow@observatory.example")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dataflow.accounts.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "dataflow.pagination.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "dataflow.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dataflow.openapi.declare_common_errors",
    ],
    "TITLE": "Observatory Data Flow System API",
    "DESCRIPTION": "Phase 1 proposals, Phase 2 observation blocks, scheduling and archive.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "ProposalStatusEnum": "proposals.models.ProposalStatus",
        "JobStatusEnum": "scheduling.models.JobStatus",
        "ReviewStatusEnum": "proposals.review.models.ReviewStatus",
        "TravelStatusEnum": "scheduling.models.TravelStatus",
        "OBStatusEnum": "observations.models.OBStatus",
        "ProposalCategoryEnum": "proposals.models.Category",
        "ArchiveCategoryEnum": "archive.models.Category",
        "LinkKindEnum": "scheduling.models.LinkKind",
    },
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_RESULT_BACKEND = os.environ.get(
    "CELERY_RESULT_BACKEND",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "cache+memory://",
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", True)
# Eager mode (dev): a failing follow-up task must not turn the request that queued it into a 500.
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_TASK_EAGER_PROPAGATES", False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
