"""Read routing: reads that may be a little stale go to the read replica, everything else to the primary.

Nothing reads from the replica unless the code says so: reports, history, full-text search and
exports run inside `replica_reads()` (a context manager and a decorator). Everything else, and in
particular every read that must see a write just made (an export job right after it was created,
a conversation right after a message), stays on the primary without having to ask.

Inside the scope a read still goes to the primary when:
- no replica is configured (`DATABASE_REPLICA_URL`, config/topology.py);
- the primary connection is inside a transaction (a service reading what it is about to write);
- the replica is down, not replicating, or further behind than `REPLICA_MAX_LAG_SECONDS`.

The replica's state is looked at most once per `REPLICA_CHECK_SECONDS` per process (one
`SHOW REPLICA STATUS`), so the check costs nothing per request. `replica_reads` used as a decorator
also survives the replica dying in the middle of the call: the call is run again on the primary
(only wrap read-only or idempotent callables).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import DatabaseError

from config.topology import REPLICA_ALIAS

logger = logging.getLogger(__name__)

_in_scope: ContextVar[bool] = ContextVar("kefu_replica_reads", default=False)


@dataclass(frozen=True)
class ReplicaState:
    configured: bool
    reachable: bool = False
    replicating: bool = False
    lag_seconds: float | None = None
    max_lag_seconds: float = 0.0
    error: str = ""
    checked_at: float = 0.0  # time.monotonic() of the look

    @property
    def usable(self) -> bool:
        return (
            self.configured
            and self.reachable
            and self.replicating
            and self.lag_seconds is not None
            and self.lag_seconds <= self.max_lag_seconds
        )

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("checked_at")
        data["usable"] = self.usable
        return data


def replica_configured() -> bool:
    return REPLICA_ALIAS in settings.DATABASES


def _max_lag() -> float:
    return float(getattr(settings, "REPLICA_MAX_LAG_SECONDS", 5))


# Rows that are read right after they are written, by design: a login, a job the user just started.
# They come from the primary even inside the scope (a session that has not reached the replica yet
# would log the user out; an export job created a moment ago would not be found by its worker).
PRIMARY_ONLY = frozenset({"sessions.session", "accounts.user", "reports.exportjob"})


def decide(state: ReplicaState, *, in_scope: bool, primary_in_transaction: bool, model_label: str = "") -> str:
    """Which alias serves a read: the rule, apart from how the facts were gathered."""
    if not in_scope or primary_in_transaction or model_label in PRIMARY_ONLY or not state.usable:
        return DEFAULT_DB_ALIAS
    return REPLICA_ALIAS


def _probe() -> ReplicaState:
    """One look at the replica: is it up, are both replication threads running, how far behind."""
    now = time.monotonic()
    max_lag = _max_lag()
    try:
        conn = connections[REPLICA_ALIAS]
        with conn.cursor() as cursor:
            if conn.vendor != "mysql":
                return ReplicaState(True, True, True, 0.0, max_lag, checked_at=now)
            cursor.execute("SHOW REPLICA STATUS")  # MariaDB >= 10.5.1, MySQL >= 8.0.22
            row = cursor.fetchone()
            columns = [c[0] for c in cursor.description] if cursor.description else []
    except DatabaseError as exc:
        _discard(REPLICA_ALIAS)
        return ReplicaState(True, False, False, None, max_lag, error=str(exc)[:200], checked_at=now)
    if row is None:
        return ReplicaState(True, True, False, None, max_lag, error="not a replica", checked_at=now)
    status = dict(zip(columns, row, strict=False))
    # MariaDB and MySQL < 8.0.22 say Master, MySQL 8.4 says Source.
    io = status.get("Slave_IO_Running", status.get("Replica_IO_Running"))
    sql = status.get("Slave_SQL_Running", status.get("Replica_SQL_Running"))
    lag = status.get("Seconds_Behind_Master", status.get("Seconds_Behind_Source"))
    replicating = io == "Yes" and sql == "Yes"
    error = ""
    if not replicating:
        error = status.get("Last_IO_Error") or status.get("Last_SQL_Error") or f"io={io} sql={sql}"
    return ReplicaState(
        True,
        True,
        replicating,
        float(lag) if lag is not None else None,
        max_lag,
        error=str(error)[:200],
        checked_at=now,
    )


def _discard(alias: str) -> None:
    try:
        connections[alias].close()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail too
        pass


_lock = threading.Lock()
_state: ReplicaState | None = None


def replica_state(*, refresh: bool = False) -> ReplicaState:
    """The replica's state as last seen by this process (looked at again when older than
    REPLICA_CHECK_SECONDS, or when refresh=True)."""
    global _state
    if not replica_configured():
        return ReplicaState(False)
    state = _state
    ttl = float(getattr(settings, "REPLICA_CHECK_SECONDS", 1))
    if not refresh and state is not None and time.monotonic() - state.checked_at < ttl:
        return state
    if not _lock.acquire(blocking=refresh):
        # Another thread is looking right now: use what we knew (or the primary, if nothing yet).
        return state or ReplicaState(True, max_lag_seconds=_max_lag(), error="not checked yet")
    try:
        new = _probe()
        if state is not None and new.usable != state.usable:
            logger.warning("read replica %s: %s", "in use" if new.usable else "not used", new.as_dict())
        _state = new
        return new
    finally:
        _lock.release()


def read_alias(model=None) -> str:
    """The alias a read of `model` issued right now would use (for code that opens its own cursor)."""
    if not _in_scope.get() or not replica_configured():
        return DEFAULT_DB_ALIAS
    label = model._meta.label_lower if model is not None else ""
    if label in PRIMARY_ONLY:
        return DEFAULT_DB_ALIAS
    return decide(
        replica_state(),
        in_scope=True,
        primary_in_transaction=connections[DEFAULT_DB_ALIAS].in_atomic_block,
        model_label=label,
    )


class replica_reads:  # noqa: N801 - used like a function: `with replica_reads():` / `@replica_reads()`
    """Reads inside may come from the replica (reports, history, search, exports)."""

    def __enter__(self):
        self._token = _in_scope.set(True)
        return self

    def __exit__(self, *exc):
        _in_scope.reset(self._token)
        return False

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if not replica_configured():
                return func(*args, **kwargs)
            try:
                with replica_reads():
                    return func(*args, **kwargs)
            except DatabaseError:
                # The replica may have died under us: if it is no longer usable, the same call
                # on the primary gives the answer; otherwise the error was not the replica's.
                if replica_state(refresh=True).usable:
                    raise
                _discard(REPLICA_ALIAS)
                logger.warning("read replica failed during %s; reading from the primary", func.__qualname__)
                return func(*args, **kwargs)

        return wrapper


class ReplicaRouter:
    """DATABASE_ROUTERS entry: writes and migrations on the primary, scoped reads on the replica."""

    def db_for_read(self, model, **hints):
        instance = hints.get("instance")
        if instance is not None and instance._state.db:
            return instance._state.db  # related objects come from where their parent came from
        return read_alias(model)

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
