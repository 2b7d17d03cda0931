"""Fair sharing of Celery workers between tenants.

Each queue has a few worker processes. A tenant that enqueues a burst of slow work (a catastrophic
pattern, a dead webhook endpoint, fifty exports) must not take all of them: a task of a tenant that
already runs KEFU_TENANT_TASK_CAPS[queue] tasks of that queue is not run now but sent back to the
queue for a moment (same arguments, same retry count), and the worker takes the next task, likely
another tenant's.

The running tasks are members of a Redis sorted set per (queue, tenant), scored by when their
claim lapses (the task's hard time limit): a worker killed mid-task cannot hold a place forever.
"""

from __future__ import annotations

import logging
import random
import time

from celery.utils.time import get_exponential_backoff_interval
from django.apps import apps as django_apps
from django.conf import settings

from celery_worker import KefuTask  # every task's base: retried when the database is briefly away

logger = logging.getLogger(__name__)

# KEYS[1] = the set; ARGV = now, lapse, member, cap. Drops lapsed claims, claims a place if free.
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[2] - ARGV[1]) + 60)
return 1
"""


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _key(queue: str, tenant_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:tenant-slots:{queue}:{tenant_id}"


def tenant_cap(queue: str) -> int | None:
    return (getattr(settings, "KEFU_TENANT_TASK_CAPS", {}) or {}).get(queue)


def slot_claim(*, queue: str, tenant_id: int, member: str, hold_seconds: float, cap: int) -> bool:
    now = time.time()
    return bool(_redis().eval(_CLAIM, 1, _key(queue, tenant_id), now, now + hold_seconds, member, cap))


def slot_release(*, queue: str, tenant_id: int, member: str) -> None:
    _redis().zrem(_key(queue, tenant_id), member)


def slots_running(*, queue: str, tenant_id: int) -> int:
    key = _key(queue, tenant_id)
    client = _redis()
    client.zremrangebyscore(key, "-inf", time.time())
    return int(client.zcard(key))


class TenantFairTask(KefuTask):
    """Base for tasks whose first argument identifies a tenant-owned row.

    `tenant_model = "app_label.Model"`: the first positional argument is that row's id (or a list
    of ids: the first counts); "tenants.Tenant" means it is the tenant id itself. Override
    `tenant_of()` for anything else.
    """

    abstract = True
    tenant_model: str | None = None

    def tenant_of(self, args, kwargs) -> int | None:
        if not self.tenant_model or not args:
            return None
        ref = args[0][0] if isinstance(args[0], (list, tuple)) and args[0] else args[0]
        if self.tenant_model == "tenants.Tenant":
            return ref
        model = django_apps.get_model(self.tenant_model)
        return model.objects.filter(pk=ref).values_list("tenant_id", flat=True).first()

    def _queue(self) -> str | None:
        info = self.request.delivery_info or {}
        return info.get("routing_key") or getattr(self, "queue", None)

    def __call__(self, *args, **kwargs):
        request = self.request
        if request.is_eager or request.called_directly:
            return self.run(*args, **kwargs)
        queue = self._queue()
        cap = tenant_cap(queue) if queue else None
        if not queue or not cap:
            return self.run(*args, **kwargs)
        try:
            tenant_id = self.tenant_of(args, kwargs)
        except self.autoretry_for as exc:
            # The database is away while we look the tenant up: this runs before the task's body,
            # outside KefuTask's automatic retry, so retry the same way here; raising would fail
            # the task for good (a push whose delivery row then stays pending forever).
            countdown = get_exponential_backoff_interval(
                factor=1, retries=request.retries, maximum=self.retry_backoff_max, full_jitter=True
            )
            raise self.retry(exc=exc, countdown=countdown, **self.retry_kwargs) from exc
        if tenant_id is None:
            return self.run(*args, **kwargs)
        member = request.id or f"{self.name}:{time.monotonic()}"
        hold = float(self.time_limit or self.app.conf.task_time_limit or 300) + 30
        if not slot_claim(queue=queue, tenant_id=tenant_id, member=member, hold_seconds=hold, cap=cap):
            delay = float(getattr(settings, "KEFU_TENANT_TASK_DEFER_SECONDS", 2.0))
            countdown = delay + random.uniform(0, delay)  # noqa: S311 - spreading, not security
            logger.info("tenant %s is at its %s cap on %s: %s deferred", tenant_id, cap, queue, self.name)
            self.signature_from_request(request, countdown=countdown, retries=request.retries).apply_async()
            return None
        try:
            return self.run(*args, **kwargs)
        finally:
            slot_release(queue=queue, tenant_id=tenant_id, member=member)
