"""Proactive invitations: an agent invites a browsing visitor, or a company rule does it by itself.

An invitation reaches the visitor in the answer to the widget's next page report or ping (every
PING_SECONDS, sooner when a rule's time on a page is about to be reached); accepting it starts a
conversation that goes to the inviting agent (or is routed like any other when a rule invited).
A visitor is invited at most `daily_cap` times a day (the company's day) and never in quiet hours
by a rule; never while chatting; one open invitation at a time. Tenant patterns run on RE2.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError
from apps.visitors.models import (
    Invitation,
    InvitationRule,
    InvitationSettings,
    InvitationStatus,
    InviteTrigger,
    PageView,
    Visit,
)

logger = logging.getLogger(__name__)

INVITATION_TTL = dt.timedelta(minutes=10)  # an invitation not answered by then is gone
OPEN_STATUSES = (InvitationStatus.PENDING, InvitationStatus.SHOWN)
RULES_CACHE_SECONDS = 60
QUIET_HOURS_BOTH = _("Give both ends of the quiet hours, or neither.")
CHANNEL_REQUIRED = _("Choose a website channel of your branches.")
NOT_A_WEBSITE = _("Invitations are shown by the website widget: choose a website channel.")


# --- patterns and rules -----------------------------------------------------------------------------


def compile_pattern(text: str):
    """A tenant's pattern on RE2 (linear time whatever it is: no backtracking, so a pattern like
    `(a+)+$` costs microseconds on any address), or ApplicationError saying why RE2 cannot run it.
    The one RE2 setup of the product (apps.knowledge.capture: the waybill patterns use it too)."""
    from apps.knowledge.capture import compile_pattern as compile_re2

    return compile_re2(text)


@lru_cache(maxsize=512)
def _pattern(text: str):
    try:
        return compile_pattern(text)
    except ApplicationError:
        logger.warning("invitation pattern ignored: %r", text)
        return None


def _matches(pattern_text: str, value: str) -> bool:
    if not pattern_text:
        return True
    pattern = _pattern(pattern_text)
    return bool(pattern is not None and pattern.search(value or ""))


def rule_validate(*, trigger: str, url_pattern: str, referrer_pattern: str, message: str) -> None:
    if trigger not in InviteTrigger.values:
        raise ApplicationError("invalid_trigger", _("Choose when the rule invites."))
    if not (message or "").strip():
        raise ApplicationError("invalid_message", _("Write the invitation text."))
    for text in (url_pattern, referrer_pattern):
        if text:
            compile_pattern(text)
    if trigger == InviteTrigger.REFERRER and not referrer_pattern:
        raise ApplicationError("invalid_pattern", _("A referrer rule needs a referrer pattern."))


def rule_save(*, rule: InvitationRule, actor=None) -> InvitationRule:
    from apps.core.services import audit_record

    rule_validate(
        trigger=rule.trigger, url_pattern=rule.url_pattern, referrer_pattern=rule.referrer_pattern, message=rule.message
    )
    with transaction.atomic():
        created = rule.pk is None
        rule.save()
        audit_record(actor=actor, action="invitation_rule.create" if created else "invitation_rule.update", obj=rule)
    rules_changed(tenant_id=rule.tenant_id)
    return rule


def rule_delete(*, rule: InvitationRule, actor=None) -> None:
    from apps.core.services import audit_record

    with transaction.atomic():
        audit_record(actor=actor, action="invitation_rule.delete", obj=rule)
        rule.delete()
    rules_changed(tenant_id=rule.tenant_id)


def settings_save(*, obj: InvitationSettings, actor=None) -> InvitationSettings:
    from apps.core.services import audit_record

    if (obj.quiet_start is None) != (obj.quiet_end is None):
        raise ApplicationError("invalid_quiet_hours", QUIET_HOURS_BOTH)
    with transaction.atomic():
        obj.save()
        audit_record(actor=actor, action="invitation_settings.update", obj=obj)
    rules_changed(tenant_id=obj.tenant_id)
    return obj


def rules_changed(*, tenant_id: int) -> None:
    transaction.on_commit(lambda: cache.delete(f"kf:invite-rules:{tenant_id}"))


def _rules_and_settings(tenant_id: int) -> tuple[list[dict], dict]:
    """The tenant's enabled rules and settings, cached briefly (read on every ping)."""
    key = f"kf:invite-rules:{tenant_id}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    rules = list(
        InvitationRule.objects.filter(tenant_id=tenant_id, is_enabled=True)
        .order_by("sort_order", "id")
        .values("id", "channel_id", "trigger", "url_pattern", "seconds", "visit_number", "referrer_pattern", "message")
    )
    obj = InvitationSettings.objects.filter(tenant_id=tenant_id).first()
    conf = {
        "daily_cap": obj.daily_cap if obj else 2,
        "quiet_start": obj.quiet_start if obj else None,
        "quiet_end": obj.quiet_end if obj else None,
    }
    cache.set(key, (rules, conf), timeout=RULES_CACHE_SECONDS)
    return rules, conf


# --- limits ---------------------------------------------------------------------------------------------


def _tenant_now(tenant_id: int, now):
    from apps.tenants.time import tenant_tz

    return now.astimezone(tenant_tz(tenant_id=tenant_id))


def in_quiet_hours(conf: dict, local_now) -> bool:
    start, end = conf["quiet_start"], conf["quiet_end"]
    if start is None or end is None or start == end:
        return False
    t = local_now.time()
    return start <= t < end if start < end else (t >= start or t < end)


def _invited_today(visit: Visit, local_now) -> int:
    day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    return Invitation.objects.filter(
        channel_id=visit.channel_id, visitor_key=visit.visitor_key, created_at__gte=day_start
    ).count()


def _chatting(visit: Visit) -> bool:
    from apps.conversations.models import OPEN_STATUSES as CONVERSATION_OPEN
    from apps.conversations.models import Conversation

    return bool(
        visit.customer_id
        and Conversation.objects.filter(
            channel_id=visit.channel_id, customer_id=visit.customer_id, status__in=CONVERSATION_OPEN
        ).exists()
    )


def _open_invitation(visit: Visit, now) -> Invitation | None:
    return (
        Invitation.objects.filter(visit=visit, status__in=OPEN_STATUSES, created_at__gte=now - INVITATION_TTL)
        .select_related("agent")
        .order_by("-id")
        .first()
    )


# --- what the widget gets on a page report or ping ---------------------------------------------------------


def invitation_for_visitor(*, visit: Visit, now=None) -> tuple[dict | None, int | None]:
    """(the invitation to show now, seconds until a rule may fire on this page) for the widget.

    An open invitation is returned (and marked shown); else the company's rules are checked."""
    now = now or timezone.now()
    invitation = _open_invitation(visit, now)
    if invitation is None:
        invitation, wait = _auto_invite(visit, now)
    else:
        wait = None
    if invitation is None:
        return None, wait
    if invitation.status == InvitationStatus.PENDING:
        Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
            status=InvitationStatus.SHOWN, shown_at=now
        )
    return invitation_to_visitor_dict(invitation), None


def invitation_to_visitor_dict(invitation: Invitation) -> dict:
    agent = invitation.agent
    return {
        "id": invitation.pk,
        "message": invitation.message,
        # Who invites: the agent's name, or the company's for a rule.
        "from": (agent.name if agent is not None else invitation.channel.tenant.name),
    }


def _auto_invite(visit: Visit, now) -> tuple[Invitation | None, int | None]:
    rules, conf = _rules_and_settings(visit.tenant_id)
    rules = [r for r in rules if r["channel_id"] in (None, visit.channel_id)]
    if not rules:
        return None, None
    local_now = _tenant_now(visit.tenant_id, now)
    if in_quiet_hours(conf, local_now) or _chatting(visit):
        return None, None
    if _invited_today(visit, local_now) >= conf["daily_cap"]:
        return None, None
    fired = set(Invitation.objects.filter(visit=visit, rule__isnull=False).values_list("rule_id", flat=True))
    page = PageView.objects.filter(visit=visit).order_by("-id").only("created_at", "url").first()
    on_page = (now - page.created_at).total_seconds() if page is not None else 0
    soonest = None
    for rule in rules:
        if rule["id"] in fired or not _matches(rule["url_pattern"], visit.current_url):
            continue
        if rule["trigger"] == InviteTrigger.PAGE_TIME:
            if on_page < rule["seconds"]:
                left = int(rule["seconds"] - on_page) + 1
                soonest = left if soonest is None else min(soonest, left)
                continue
        elif rule["trigger"] == InviteTrigger.VISIT_NUMBER:
            if visit.number < rule["visit_number"]:
                continue
        elif not (visit.referrer and _matches(rule["referrer_pattern"], visit.referrer)):
            continue
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    tenant_id=visit.tenant_id,
                    visit=visit,
                    channel_id=visit.channel_id,
                    visitor_key=visit.visitor_key,
                    branch_id=visit.channel.branch_id,
                    rule_id=rule["id"],
                    message=rule["message"],
                )
        except IntegrityError:
            continue  # a ping from another tab fired it at the same moment
        return invitation, None
    return None, soonest


# --- agents inviting --------------------------------------------------------------------------------------


def invitation_create(*, actor, visit_id: int, message: str = "") -> Invitation:
    """An agent invites a browsing visitor on a site they may watch."""
    from apps.visitors.selectors import watchable_channels
    from apps.visitors.services import ONLINE_SECONDS

    now = timezone.now()
    visit = (
        Visit.objects.select_related("channel").filter(pk=visit_id, channel__in=watchable_channels(actor=actor)).first()
    )
    if visit is None:
        raise ApplicationError("not_found", _("Not found."), status=404)
    message = (message or "").strip()[:200] or gettext("Hello! Can I help you with anything?")
    if visit.left_at is not None or now - visit.last_seen_at > dt.timedelta(seconds=ONLINE_SECONDS):
        raise ApplicationError("visitor_gone", _("The visitor has left the site."), status=409)
    if _chatting(visit):
        raise ApplicationError("already_chatting", _("The visitor is already chatting."), status=409)
    with transaction.atomic():
        Visit.objects.select_for_update().filter(pk=visit.pk).first()  # one invitation at a time
        if _open_invitation(visit, now) is not None:
            raise ApplicationError("already_invited", _("The visitor has already been invited."), status=409)
        _rules, conf = _rules_and_settings(visit.tenant_id)
        if _invited_today(visit, _tenant_now(visit.tenant_id, now)) >= conf["daily_cap"]:
            raise ApplicationError(
                "invitation_cap", _("The visitor was invited as often as the company allows today."), status=409
            )
        return Invitation.objects.create(
            tenant_id=visit.tenant_id,
            visit=visit,
            channel_id=visit.channel_id,
            visitor_key=visit.visitor_key,
            branch_id=actor.branch_id or visit.channel.branch_id,
            agent=actor,
            message=message,
        )


# --- the visitor answers ------------------------------------------------------------------------------------


def invitation_decline(*, channel, visitor_key: str, invitation_id: int) -> Invitation | None:
    now = timezone.now()
    updated = Invitation.objects.filter(
        pk=invitation_id, channel=channel, visitor_key=visitor_key, status__in=OPEN_STATUSES
    ).update(status=InvitationStatus.DECLINED, responded_at=now)
    return Invitation.objects.filter(pk=invitation_id).first() if updated else None


def invitation_accept(*, visitor, invitation_id: int, visitor_key: str):
    """The visitor answered the invitation (from the chat frame, with their visitor token): a
    conversation starts, with the invitation as its first message, and goes to the inviting agent
    when they can take it, otherwise through routing like any other. Safe to repeat."""
    from apps.channels.models import Channel
    from apps.conversations.models import ConversationStatus
    from apps.conversations.services import conversation_assign, conversation_handoff_to_human
    from apps.customers.models import Customer
    from apps.messaging.services import message_create
    from apps.routing.intake import conversation_intake
    from apps.visitors.services import visits_link_customer

    now = timezone.now()
    invitation = (
        Invitation.objects.select_related("agent")
        .filter(
            Q(pk=invitation_id) & Q(tenant_id=visitor.tenant_id, channel_id=visitor.channel_id, visitor_key=visitor_key)
        )
        .first()
    )
    if invitation is None:
        raise ApplicationError("not_found", _("Not found."), status=404)
    if invitation.status == InvitationStatus.ACCEPTED and invitation.conversation_id:
        return invitation.conversation
    if invitation.status not in OPEN_STATUSES or now - invitation.created_at > INVITATION_TTL:
        raise ApplicationError("invitation_expired", _("This invitation has expired."), status=409)
    channel = Channel.objects.get(pk=visitor.channel_id)
    customer = Customer.objects.get(pk=visitor.customer_id, tenant_id=visitor.tenant_id)
    visits_link_customer(channel=channel, visitor_key=visitor_key, customer=customer)
    agent = invitation.agent
    # One transaction: dispatch looks for an agent only after it commits, by when the inviting
    # agent holds the conversation (if they can take it: online, with room).
    with transaction.atomic():
        conversation = conversation_intake(channel=channel, customer=customer)
        if agent is not None and conversation.assignee_id is None:
            if conversation.status == ConversationStatus.BOT:
                # A person invited: the answer goes to a person, not to the bot.
                conversation = conversation_handoff_to_human(
                    conversation_id=conversation.pk, reason="invitation", actor=agent
                )
            if conversation.status == ConversationStatus.QUEUED:
                try:
                    conversation = conversation_assign(
                        conversation_id=conversation.pk, agent_id=agent.pk, actor=agent, reason="invitation"
                    )
                except ApplicationError as exc:
                    # The agent filled up or someone took it meanwhile: it waits in the queue.
                    logger.info("invitation %s not assigned to the inviting agent: %s", invitation.pk, exc.code)
        if agent is not None and conversation.assignee_id == agent.pk:
            opening = {"sender_kind": "agent", "sender_user": agent}
        else:
            opening = {
                "sender_kind": "system",
                "content_type": "system",
                "payload": {"code": "invitation", "invitation_id": invitation.pk},
            }
        message_create(
            conversation_id=conversation.pk,
            body=invitation.message,
            client_msg_id=f"invitation-{invitation.pk}",
            **opening,
        )
        Invitation.objects.filter(pk=invitation.pk).update(
            status=InvitationStatus.ACCEPTED, conversation=conversation, responded_at=now
        )
    return conversation
