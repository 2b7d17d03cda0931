"""Per-account login backoff, on top of the per-address rate limit.

Failures are counted per user name (whether or not such an account exists, so the answer never
tells which names are real). After LOGIN_FREE_ATTEMPTS failures each further attempt must wait
2, 4, 8 ... seconds (at most LOGIN_MAX_WAIT_SECONDS) after the last failure, whatever address it
comes from: spreading a password guess over many addresses (or forged X-Forwarded-For headers)
gains nothing. A successful login clears the count.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

COUNT_TTL = 24 * 3600


def _key(username: str) -> str:
    digest = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:{digest}"


def _free() -> int:
    return int(getattr(settings, "LOGIN_FREE_ATTEMPTS", 5))


def _max_wait() -> int:
    return int(getattr(settings, "LOGIN_MAX_WAIT_SECONDS", 900))


def login_wait_seconds(username: str, *, now: float | None = None) -> int:
    """Seconds this user name must still wait before the next attempt (0: go ahead)."""
    state = cache.get(_key(username))
    if not state:
        return 0
    failures, last = state
    if failures < _free():
        return 0
    wait = min(_max_wait(), 2 ** (failures - _free() + 1))
    remaining = last + wait - (time.time() if now is None else now)
    return max(0, int(remaining + 0.999))


def login_failed(username: str, *, now: float | None = None) -> None:
    key = _key(username)
    failures, _last = cache.get(key) or (0, 0.0)
    cache.set(key, (failures + 1, time.time() if now is None else now), timeout=COUNT_TTL)


def login_succeeded(username: str) -> None:
    cache.delete(_key(username))
