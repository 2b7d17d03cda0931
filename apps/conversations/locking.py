"""Row locking helpers shared by every lifecycle write.

Lock order, everywhere: agent rows (ascending id) first, then the conversation row, then
transfer rows. Dispatch, close, transfer and timeouts all follow it, so two processes can
wait on each other but not deadlock; a deadlock the database still reports (gap locks,
index order) is retried from scratch.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, transaction

T = TypeVar("T")

# MySQL/MariaDB: 1213 deadlock found, 1205 lock wait timeout. SQLite: "database is locked".
_RETRY_CODES = {1213, 1205}


def _is_retryable(exc: OperationalError) -> bool:
    code = exc.args[0] if exc.args else None
    if code in _RETRY_CODES:
        return True
    return "database is locked" in str(exc) or "deadlock" in str(exc).lower()


def retry_on_deadlock(fn: Callable[[], T], *, attempts: int = 6) -> T:
    """Run `fn` (which opens its own transaction) again when the database picks it as a
    deadlock victim. Inside an outer transaction a retry would be wrong (the outer one is
    already rolled back), so then it runs once."""
    if transaction.get_connection().in_atomic_block:
        return fn()
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if attempt == attempts - 1 or not _is_retryable(exc):
                raise
            time.sleep(random.uniform(0.002, 0.02) * (attempt + 1))
    raise AssertionError("unreachable")
