"""“Waiting for the customer” (snooze): an agent parks a conversation until the customer answers.

The conversation stays the agent's (status active). With the tenant's `waiting_releases_load`
it leaves their active count, so dispatch may give them another. The customer's next message
wakes it (apps.routing.services.on_message_created); a reminder time tells the agent live when
it comes; after `waiting_close_seconds` of silence the inactivity job closes it with a message.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.conversations import policy
from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, ConversationStatus
from apps.conversations.serializers import conversation_to_dict
from apps.core.errors import ApplicationError
from apps.messaging import groups
from apps.messaging.publish import publish, publish_conversation_event
from apps.routing import selectors

MAX_REMIND_AHEAD = dt.timedelta(days=30)

# Listeners told when a conversation starts or stops waiting, inside the transaction with its row
# locked: fn(conversation, waiting: bool, at). apps.sla pauses the resolution clock here (a layer
# above dispatch, so it registers itself rather than being imported).
_waiting_listeners: list = []


def on_waiting_changed(fn):
    _waiting_listeners.append(fn)
    return fn


def _tell(conversation: Conversation, *, waiting: bool, at: dt.datetime) -> None:
    for fn in _waiting_listeners:
        fn(conversation=conversation, waiting=waiting, at=at)


def _publish(conversation: Conversation) -> None:
    publish_conversation_event(
        conversation,
        {"type": "conversation.updated", "conversation": conversation_to_dict(conversation)},
        visitor=True,
    )


def _locked_for(actor, conversation_id: int) -> Conversation:
    conv = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conv is None:
        raise policy.not_found()
    policy.check(actor, conv, policy.VIEW)
    if conv.assignee_id != actor.pk and not actor.is_manager:
        raise ApplicationError("not_assignee", _("Only the conversation's agent can do this."), status=403)
    if conv.status != ConversationStatus.ACTIVE:
        raise ApplicationError("not_active", _("Only a conversation in service can wait for the customer."), status=409)
    return conv


def conversation_wait(*, conversation_id: int, actor, remind_at: dt.datetime | None = None) -> Conversation:
    now = timezone.now()
    if remind_at is not None and not (now < remind_at <= now + MAX_REMIND_AHEAD):
        raise ApplicationError("invalid_remind_at", _("Choose a reminder time in the next 30 days."))
    with transaction.atomic():
        conv = _locked_for(actor, conversation_id)
        release = selectors.dispatch_settings_get(tenant_id=conv.tenant_id).waiting_releases_load
        was_released = conv.load_released
        started = conv.waiting_since is None
        conv.waiting_since = conv.waiting_since or now
        conv.remind_at, conv.reminded_at, conv.load_released = remind_at, None, release
        conv.save(update_fields=["waiting_since", "remind_at", "reminded_at", "load_released"])
        conv_services.conversation_event_record(
            conversation=conv, kind="waiting", from_status=conv.status, to_status=conv.status, actor=actor
        )
        if started:
            _tell(conv, waiting=True, at=now)
        _publish(conv)
        if release and not was_released and conv.assignee_id:
            from apps.routing.services import dispatch_for_agent

            agent_id = conv.assignee_id
            transaction.on_commit(lambda: dispatch_for_agent(agent_id=agent_id))
    return conv


def _wake(conv: Conversation, *, reason: str, actor=None) -> None:
    """Inside the caller's transaction, with the conversation row locked."""
    _tell(conv, waiting=False, at=timezone.now())
    conv.waiting_since = conv.remind_at = conv.reminded_at = None
    conv.load_released = False
    conv.save(update_fields=["waiting_since", "remind_at", "reminded_at", "load_released"])
    conv_services.conversation_event_record(
        conversation=conv,
        kind="waiting_ended",
        from_status=conv.status,
        to_status=conv.status,
        actor=actor,
        reason=reason,
    )
    _publish(conv)


def conversation_resume(*, conversation_id: int, actor) -> Conversation:
    with transaction.atomic():
        conv = _locked_for(actor, conversation_id)
        if conv.waiting_since is not None:
            _wake(conv, reason="agent_resumed", actor=actor)
    return conv


def wake_on_customer_message(*, conversation_id: int, written_at: dt.datetime | None = None) -> None:
    """The customer wrote (called after the message committed): back in the agent's active work.
    `written_at`: when the message was written; a wait begun after it is not woken by it."""
    with transaction.atomic():
        conv = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conv is None or conv.waiting_since is None:
            return
        if written_at is None or written_at >= conv.waiting_since:
            _wake(conv, reason="customer_replied")


def waiting_reminders(*, now: dt.datetime | None = None) -> int:
    """Tell each agent once when a reminder time comes (the stamp makes repeats harmless)."""
    now = now or timezone.now()
    done = 0
    rows = Conversation.objects.filter(
        status=ConversationStatus.ACTIVE, waiting_since__isnull=False, remind_at__lte=now, reminded_at__isnull=True
    ).values_list("pk", "tenant_id", "assignee_id", "remind_at")
    for pk, tenant_id, assignee_id, remind_at in list(rows[:500]):
        with transaction.atomic():
            if not Conversation.objects.filter(pk=pk, reminded_at__isnull=True).update(reminded_at=now):
                continue
            if assignee_id and remind_at is not None:
                publish(
                    groups.agent_group(tenant_id, assignee_id),
                    {"type": "conversation.reminder", "conversation_id": pk, "remind_at": remind_at.isoformat()},
                )
            done += 1
    return done


def waiting_close_silent(*, now: dt.datetime | None = None) -> int:
    """Close conversations that waited longer than the tenant's silence, with a message."""
    from apps.routing.services import _settings_by_tenant, _system_notice

    now = now or timezone.now()
    rows = list(
        Conversation.objects.filter(status=ConversationStatus.ACTIVE, waiting_since__isnull=False).values_list(
            "pk", "tenant_id", "waiting_since"
        )
    )
    settings_ = _settings_by_tenant(r[1] for r in rows)
    done = 0
    for pk, tenant_id, since in rows:
        s = settings_[tenant_id]
        if not s.waiting_close_seconds or since is None or since > now - dt.timedelta(seconds=s.waiting_close_seconds):
            continue
        with transaction.atomic():
            locked = (
                Conversation.objects.select_for_update()
                .filter(pk=pk, status=ConversationStatus.ACTIVE, waiting_since=since)
                .first()
            )
            if locked is None:  # woken or closed meanwhile
                continue
            _system_notice(
                pk,
                s.waiting_close_message
                or str(
                    _(
                        "We have not heard from you for a while, so this conversation is now closed. "
                        "Write to us any time to continue."
                    )
                ),
            )
            conv_services.conversation_close(conversation_id=pk, reason="waiting_timeout")
        done += 1
    return done
