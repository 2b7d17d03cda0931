"""Channel jobs: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from apps.channels import services
from apps.core.jobs import TenantFairTask
from apps.outbound import webhooks

MAX_DELIVERY_RETRIES = 6


@shared_task(acks_late=True, base=TenantFairTask, tenant_model="kf_channels.InboundMessage")
def process_inbound(inbound_id: int) -> None:
    from apps.channels import wecom_services
    from apps.channels.models import ChannelKind

    processed = services.inbound_process(inbound_id=inbound_id)
    if processed.inbound.channel.kind == ChannelKind.WECOM_KF:
        wecom_services.after_process(processed)


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=MAX_DELIVERY_RETRIES,
    base=TenantFairTask,
    tenant_model="kf_channels.OutboundDelivery",
)
def deliver_outbound(self, delivery_id: int) -> None:
    try:
        services.outbound_deliver(delivery_id=delivery_id)
    except services.RetryableDeliveryError as exc:
        if self.request.retries >= self.max_retries:
            services.outbound_give_up(delivery_id=delivery_id)
            return
        if self.request.is_eager:
            # No broker to schedule the retry on (tests, CELERY_TASK_ALWAYS_EAGER): retry inline.
            self.apply(args=[delivery_id], retries=self.request.retries + 1, throw=True)
            return
        raise self.retry(exc=exc, countdown=webhooks.retry_countdown(self.request.retries))


@shared_task(acks_late=True, base=TenantFairTask, tenant_model="kf_channels.Channel")
def wecom_pull(channel_id: int) -> int:
    from apps.channels import wecom_services

    return wecom_services.pull(channel_id=channel_id)


@shared_task(acks_late=True, base=TenantFairTask, tenant_model="conversations.Conversation")
def wecom_session_end(conversation_id: int) -> None:
    from apps.channels import wecom_services

    wecom_services.session_end(conversation_id=conversation_id)


@shared_task(acks_late=True)
def wecom_pull_all() -> None:
    """Safety net: read every WeChat Customer Service channel even if a callback was lost."""
    from apps.channels.models import Channel, ChannelKind

    for channel_id in Channel.objects.filter(kind=ChannelKind.WECOM_KF, is_enabled=True).values_list("pk", flat=True):
        wecom_pull.delay(channel_id)


@shared_task(acks_late=True)
def inbound_sweep() -> int:
    """Deliveries stored but never processed (a lost task, a worker killed mid-way) are processed
    again; inbound_process is idempotent."""
    return services.inbound_sweep()
