"""Hook registrations of the messaging app itself (loaded in MessagingConfig.ready)."""

from __future__ import annotations

from apps.messaging import hooks, mentions, push  # noqa: F401  (mentions registers its listener)


@hooks.on_messages_committed
def _plan_offline_push(*, messages) -> None:
    ids = [m.pk for m in messages if push.tenant_has_webhook(m.tenant_id)]
    if ids:
        from apps.messaging.tasks import push_for_messages

        push_for_messages.delay(ids)
