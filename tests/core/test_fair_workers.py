"""No single tenant can take every worker of a queue: a real Celery worker (two threads) on the
real broker, one tenant's burst of slow tasks, another tenant's task still runs at once."""

from __future__ import annotations

import threading
import time

import pytest
from celery import shared_task
from celery.contrib.testing.worker import start_worker
from django.db import OperationalError

from apps.core.jobs import TenantFairTask, slots_running
from celery_worker import app

QUEUE = "fairtest"
_started: list[tuple[str, int]] = []
_running: dict[int, int] = {}
_peak: dict[int, int] = {}
_release = threading.Event()
_lock = threading.Lock()


class FairByKwarg(TenantFairTask):
    abstract = True

    def tenant_of(self, args, kwargs):
        return kwargs["tenant"]


@shared_task(base=FairByKwarg, name="tests.core.fair_probe")
def fair_probe(*, tenant: int, tag: str) -> str:
    with _lock:
        _started.append((tag, tenant))
        _running[tenant] = _running.get(tenant, 0) + 1
        _peak[tenant] = max(_peak.get(tenant, 0), _running[tenant])
    try:
        _release.wait(timeout=20)  # a slow task: holds its worker until the test lets go
    finally:
        with _lock:
            _running[tenant] -= 1
    return tag


class FairFlakyLookup(FairByKwarg):
    """Its tenant lookup meets a database that is restarting the first time."""

    abstract = True
    lookups = 0

    def tenant_of(self, args, kwargs):
        FairFlakyLookup.lookups += 1
        if FairFlakyLookup.lookups == 1:
            raise OperationalError(2002, "Can't connect to server on '127.0.0.1' (115)")
        return super().tenant_of(args, kwargs)


@shared_task(base=FairFlakyLookup, name="tests.core.fair_flaky_probe")
def fair_flaky_probe(*, tenant: int, tag: str) -> str:
    with _lock:
        _started.append((tag, tenant))
    return tag


def _wait(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def worker(settings, monkeypatch):
    settings.KEFU_TENANT_TASK_CAPS = {QUEUE: 1}
    settings.KEFU_TENANT_TASK_DEFER_SECONDS = 0.2
    monkeypatch.setattr(app.conf, "task_always_eager", False)
    _started.clear()
    _running.clear()
    _peak.clear()
    _release.clear()
    with start_worker(app, concurrency=2, pool="threads", perform_ping_check=False, queues=[QUEUE]) as w:
        yield w
        _release.set()


@pytest.mark.django_db
def test_one_tenants_burst_leaves_a_worker_for_another_tenant(worker):
    for i in range(4):
        fair_probe.apply_async(kwargs={"tenant": 1, "tag": f"a{i}"}, queue=QUEUE)
    assert _wait(lambda: ("a0", 1) in _started)
    fair_probe.apply_async(kwargs={"tenant": 2, "tag": "b0"}, queue=QUEUE)
    # Tenant 2 runs while tenant 1's first task still holds its worker: the other three of
    # tenant 1 went back to the queue instead of taking the second worker.
    assert _wait(lambda: ("b0", 2) in _started), _started
    assert [tag for tag, tenant in _started if tenant == 1] == ["a0"]
    assert slots_running(queue=QUEUE, tenant_id=1) == 1 and slots_running(queue=QUEUE, tenant_id=2) == 1
    _release.set()
    # Then every deferred task of tenant 1 runs, one at a time, none lost.
    assert _wait(lambda: sorted(tag for tag, t in _started if t == 1) == ["a0", "a1", "a2", "a3"]), _started
    assert _peak[1] == 1 and _peak[2] == 1
    assert _wait(lambda: slots_running(queue=QUEUE, tenant_id=1) == 0)


@pytest.mark.django_db
def test_a_task_whose_tenant_lookup_meets_a_restarting_database_runs_later_instead_of_failing(worker):
    # (bench/faults.py, primary restart: push_send failed for good in this lookup, before the
    # body and its automatic retry, and its delivery stayed pending.)
    FairFlakyLookup.lookups = 0
    fair_flaky_probe.apply_async(kwargs={"tenant": 3, "tag": "after-restart"}, queue=QUEUE)
    assert _wait(lambda: ("after-restart", 3) in _started), _started
    assert FairFlakyLookup.lookups == 2
