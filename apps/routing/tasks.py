"""Celery tasks: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from apps.core.jobs import TenantFairTask
from apps.routing import services, waiting


@shared_task(name="apps.routing.tasks.run_timeouts", ignore_result=True)
def run_timeouts() -> dict:
    return {
        "first_response": services.timeout_first_response(),
        "queue_wait": services.timeout_queue_wait(),
        "visitor_inactivity": services.timeout_visitor_inactivity(),
        "waiting_closed": waiting.waiting_close_silent(),
        "waiting_reminded": waiting.waiting_reminders(),
        "transfers": services.timeout_transfers(),
    }


@shared_task(name="apps.routing.tasks.queue_sweep", ignore_result=True)
def queue_sweep() -> int:
    return services.queue_sweep()


@shared_task(name="apps.routing.tasks.presence_sweep", ignore_result=True)
def presence_sweep() -> int:
    return services.presence_sweep()


@shared_task(name="apps.routing.tasks.load_evaluate", ignore_result=True)
def load_evaluate() -> int:
    return services.load_evaluate()


@shared_task(
    name="apps.routing.tasks.agent_presence_check",
    ignore_result=True,
    base=TenantFairTask,
    tenant_model="accounts.User",
)
def agent_presence_check(agent_id: int) -> bool:
    return services.agent_presence_check(agent_id=agent_id)


@shared_task(
    name="apps.routing.tasks.broadcast_queue_positions",
    ignore_result=True,
    base=TenantFairTask,
    tenant_model="tenants.Tenant",
)
def broadcast_queue_positions(tenant_id: int) -> int:
    return services.queue_positions_publish(tenant_id=tenant_id)
