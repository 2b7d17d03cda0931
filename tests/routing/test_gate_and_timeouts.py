"""Rate-limit switch, working hours, queue cap, presence, and every beat job (run twice)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from apps.accounts import hooks as account_hooks
from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus
from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, ConversationEvent, ConversationStatus, Transfer
from apps.core.errors import ApplicationError
from apps.messaging import presence
from apps.messaging.models import Message
from apps.messaging.services import message_create
from apps.routing import services
from apps.routing.models import AgentPresence, DispatchSettings, Holiday, WorkingHours
from apps.routing.selectors import dispatch_settings_forget, is_working_time

pytestmark = [pytest.mark.django_db(transaction=True)]


def _refused(dispatch, code, **kw):
    before = Conversation.objects.count()
    with pytest.raises(ApplicationError) as exc:
        dispatch.start(**kw)
    assert exc.value.code == code
    assert exc.value.status_code == 503
    assert exc.value.extra == {"leave_message": True}
    assert Conversation.objects.count() == before  # nothing written
    return exc.value


# --- F58 switch -----------------------------------------------------------------------------


def test_manual_switch_refuses_new_conversations_but_open_ones_keep_working(dispatch):
    agent = dispatch.agent(dispatch.org.sh, cap=5)
    visitor = dispatch.visitor()
    open_conv = dispatch.start(customer=visitor)
    services.dispatch_settings_update(actor=dispatch.org.admin, intake_paused=True, paused_message="稍后再试")
    err = _refused(dispatch, "intake_paused")
    assert str(err.message) == "稍后再试"
    # The visitor already talking keeps their conversation and can keep writing.
    assert dispatch.start(customer=visitor).pk == open_conv.pk
    message_create(conversation_id=open_conv.pk, sender_kind="visitor", body="still here")
    message_create(conversation_id=open_conv.pk, sender_kind="agent", sender_user=agent, body="yes")
    services.dispatch_settings_update(actor=dispatch.org.admin, intake_paused=False)
    assert dispatch.start().status == ConversationStatus.ACTIVE


def test_only_super_admins_flip_the_switch(dispatch):
    with pytest.raises(ApplicationError) as exc:
        services.dispatch_settings_update(actor=dispatch.org.sup_east, intake_paused=True)
    assert exc.value.status_code == 403
    assert not DispatchSettings.objects.filter(tenant=dispatch.org.tenant, intake_paused=True).exists()


def test_automatic_switch_follows_load_with_hysteresis(dispatch):
    dispatch.settings(auto_limit_enabled=True, auto_limit_queue_length=2, auto_limit_messages_per_second=1000)
    waiting = [dispatch.start(), dispatch.start()]  # nobody online: both wait
    assert services.load_evaluate() == 1
    assert services.load_evaluate() == 0  # idempotent
    _refused(dispatch, "intake_paused")
    conv_services.conversation_close(conversation_id=waiting[0].pk, reason="test")
    assert services.load_evaluate() == 1  # 1 < 0.8 * 2: resumes
    assert dispatch.start().status == ConversationStatus.QUEUED


def test_queue_cap_asks_new_visitors_to_leave_a_message(dispatch):
    dispatch.settings(queue_cap=2)
    dispatch.start()
    dispatch.start()
    _refused(dispatch, "queue_full")
    lm = services.leave_message_create(
        channel=dispatch.channel, contact="13800000000", content="call me", reason="queue_full"
    )
    assert lm.tenant_id == dispatch.org.tenant.pk
    with pytest.raises(ApplicationError):
        services.leave_message_create(channel=dispatch.channel, contact="", content="x")


def test_disabled_branch_takes_no_new_conversations(dispatch):
    account_services.branch_set_enabled(branch=dispatch.org.sh, enabled=False, actor=dispatch.org.admin)
    dispatch.channel.refresh_from_db()
    _refused(dispatch, "branch_disabled")


# --- F45 working hours ----------------------------------------------------------------------


def _at(weekday: int, hour: int, minute: int = 0) -> dt.datetime:
    # 2026-11-23 is a Monday; tenant time zone is Asia/Shanghai.
    import zoneinfo

    return dt.datetime(2026, 11, 23 + weekday, hour, minute, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(
    "wall_clock",
    ["2026-11-20T08:00:00+00:00", "2026-11-24T17:30:00+00:00", "2027-06-30T23:59:00+00:00"],
    ids=["before", "during", "months-after"],
)
def test_working_hours_branch_overrides_company_and_holidays_close(dispatch, wall_clock):
    # The answer for a given instant must not depend on when the question is asked.
    with time_machine.travel(dt.datetime.fromisoformat(wall_clock), tick=False):
        _check_working_hours_and_holidays(dispatch)


def _check_working_hours_and_holidays(dispatch):
    org = dispatch.org
    tenant = org.tenant
    for day in range(5):
        WorkingHours.objects.create(tenant=tenant, weekday=day, start=dt.time(9), end=dt.time(18))
    WorkingHours.objects.create(tenant=tenant, branch=org.east, weekday=5, start=dt.time(10), end=dt.time(16))
    assert is_working_time(tenant=tenant, branch=org.south, at=_at(0, 9, 30))
    assert not is_working_time(tenant=tenant, branch=org.south, at=_at(0, 18, 0))
    assert not is_working_time(tenant=tenant, branch=org.south, at=_at(5, 11))
    # Shanghai has no hours of its own: East's (Saturdays only) apply to it.
    assert is_working_time(tenant=tenant, branch=org.sh, at=_at(5, 11))
    assert not is_working_time(tenant=tenant, branch=org.sh, at=_at(0, 11))
    Holiday.objects.create(tenant=tenant, date=_at(0, 0).date(), name="national day")
    dispatch_settings_forget(tenant.pk)  # what the back office does on save
    assert not is_working_time(tenant=tenant, branch=org.south, at=_at(0, 10))
    assert is_working_time(tenant=tenant, branch=org.south, at=_at(1, 10))


def test_off_hours_refuses_with_message_but_the_bot_still_answers(dispatch):
    org = dispatch.org
    Holiday.objects.create(
        tenant=org.tenant,
        date=timezone.localdate(timezone=__import__("zoneinfo").ZoneInfo(org.tenant.timezone)),
        name="today",
    )
    dispatch.settings(off_hours_message="我们下班了")
    err = _refused(dispatch, "off_hours")
    assert str(err.message) == "我们下班了"
    bot_channel = dispatch.make_channel(org.sh, bot_enabled=True)
    conv = dispatch.start(channel=bot_channel)
    assert conv.status == ConversationStatus.BOT
    with pytest.raises(ApplicationError) as exc:
        conv_services.conversation_handoff_to_human(conversation_id=conv.pk)
    assert exc.value.code == "off_hours"
    assert Conversation.objects.get(pk=conv.pk).status == ConversationStatus.BOT


def test_bot_hands_off_to_a_human_through_the_queue(dispatch):
    bot_channel = dispatch.make_channel(dispatch.org.sh, bot_enabled=True)
    conv = dispatch.start(channel=bot_channel)
    agent = dispatch.agent(dispatch.org.sh, cap=1)
    assert conv.status == ConversationStatus.BOT and conv.assignee_id is None  # the bot's, not an agent's
    conv_services.conversation_handoff_to_human(conversation_id=conv.pk, reason="asked_for_human")
    conv.refresh_from_db()
    assert conv.assignee_id == agent.pk
    assert ConversationEvent.objects.filter(
        conversation=conv, kind="handoff", from_status="bot", to_status="queued", reason="asked_for_human"
    ).exists()


# --- timeouts, each run twice ---------------------------------------------------------------


def test_first_response_timeout_reassigns_to_another_agent(dispatch):
    dispatch.settings(first_response_timeout_seconds=60)
    slow = dispatch.agent(dispatch.org.sh, cap=5)
    conv = dispatch.start()
    assert conv.assignee_id == slow.pk
    fast = dispatch.agent(dispatch.org.sh, cap=5)
    Conversation.objects.filter(pk=conv.pk).update(assigned_at=timezone.now() - dt.timedelta(seconds=30))
    assert services.timeout_first_response() == 0
    Conversation.objects.filter(pk=conv.pk).update(assigned_at=timezone.now() - dt.timedelta(seconds=61))
    assert services.timeout_first_response() == 1
    assert services.timeout_first_response() == 0  # running twice changes nothing more
    conv.refresh_from_db()
    assert conv.assignee_id == fast.pk and conv.status == ConversationStatus.ACTIVE
    assert f",{slow.pk}," in conv.excluded_agents
    kinds = list(ConversationEvent.objects.filter(conversation=conv).values_list("kind", flat=True))
    assert kinds == ["created", "assigned", "requeued", "assigned"]


def test_answered_conversations_are_not_reassigned(dispatch):
    dispatch.settings(first_response_timeout_seconds=60)
    agent = dispatch.agent(dispatch.org.sh, cap=5)
    conv = dispatch.start()
    message_create(conversation_id=conv.pk, sender_kind="agent", sender_user=agent, body="hi")
    assert services.timeout_first_response(now=timezone.now() + dt.timedelta(minutes=5)) == 0


def test_queue_wait_timeout_closes_with_leave_a_message_notice(dispatch):
    dispatch.settings(queue_wait_timeout_seconds=300)
    conv = dispatch.start()
    assert services.timeout_queue_wait(now=timezone.now() + dt.timedelta(seconds=200)) == 0
    later = timezone.now() + dt.timedelta(seconds=301)
    assert services.timeout_queue_wait(now=later) == 1
    assert services.timeout_queue_wait(now=later) == 0
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.CLOSED and conv.close_reason == "queue_timeout"
    assert conv.open_key is None
    assert Message.objects.filter(conversation=conv, sender_kind="system").count() == 1


def test_visitor_inactivity_warns_first_then_closes(dispatch):
    dispatch.settings(visitor_inactivity_warning_seconds=300, visitor_inactivity_close_seconds=420)
    dispatch.agent(dispatch.org.sh, cap=5)
    conv = dispatch.start()
    now = timezone.now()
    assert services.timeout_visitor_inactivity(now=now + dt.timedelta(seconds=100)) == 0
    warn_at = now + dt.timedelta(seconds=301)
    assert services.timeout_visitor_inactivity(now=warn_at) == 1
    assert services.timeout_visitor_inactivity(now=warn_at) == 0  # warned once only
    # (the first system line is "…为您服务" from the assignment; then the one warning)
    assert Message.objects.filter(conversation=conv, sender_kind="system").count() == 2
    assert services.timeout_visitor_inactivity(now=warn_at + dt.timedelta(seconds=60)) == 0
    close_at = warn_at + dt.timedelta(seconds=121)
    assert services.timeout_visitor_inactivity(now=close_at) == 1
    assert services.timeout_visitor_inactivity(now=close_at) == 0
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.CLOSED and conv.close_reason == "visitor_inactive"


def test_visitor_who_answers_the_warning_is_not_closed(dispatch):
    dispatch.settings(visitor_inactivity_warning_seconds=1, visitor_inactivity_close_seconds=2)
    dispatch.agent(dispatch.org.sh, cap=5)
    conv = dispatch.start()
    Conversation.objects.filter(pk=conv.pk).update(assigned_at=timezone.now() - dt.timedelta(seconds=10))
    assert services.timeout_visitor_inactivity() == 1
    message_create(conversation_id=conv.pk, sender_kind="visitor", body="I'm here")
    assert services.timeout_visitor_inactivity(now=timezone.now() + dt.timedelta(milliseconds=500)) == 0
    assert Conversation.objects.get(pk=conv.pk).status == ConversationStatus.ACTIVE


# --- presence -------------------------------------------------------------------------------


def test_presence_follows_connections_with_a_grace_period(dispatch):
    dispatch.settings(presence_grace_seconds=30)
    agent = dispatch.agent(dispatch.org.sh, cap=5, online=False)
    account_hooks.run_connection_changed(agent, channel_name="c1", connected=True)
    agent.refresh_from_db()
    assert agent.status == AgentStatus.INVISIBLE  # invisible at login
    account_services.agent_set_status(agent=agent, status=AgentStatus.ONLINE)
    account_hooks.run_connection_changed(agent, channel_name="c2", connected=True)
    account_hooks.run_connection_changed(agent, channel_name="c1", connected=False)
    assert services.agent_presence_check(agent_id=agent.pk, now=timezone.now() + dt.timedelta(minutes=5)) is False
    account_hooks.run_connection_changed(agent, channel_name="c2", connected=False)
    assert presence.live_connections(presence.agent_key(agent.pk)) == 0
    assert services.agent_presence_check(agent_id=agent.pk, now=timezone.now() + dt.timedelta(seconds=10)) is False
    agent.refresh_from_db()
    assert agent.status == AgentStatus.ONLINE  # within grace (a page reload)
    later = timezone.now() + dt.timedelta(seconds=31)
    assert services.presence_sweep(now=later) == 1
    assert services.presence_sweep(now=later) == 0
    agent.refresh_from_db()
    assert agent.status == AgentStatus.OFFLINE


def test_connections_of_a_crashed_server_are_swept_and_the_agent_goes_offline(dispatch):
    dispatch.settings(presence_grace_seconds=30)
    agent = dispatch.agent(dispatch.org.sh, cap=5, online=False)
    other = dispatch.agent(dispatch.org.sh, cap=5, online=False)
    account_hooks.run_connection_changed(agent, channel_name="dead-server.1", connected=True)
    account_hooks.run_connection_changed(other, channel_name="live-server.1", connected=True)
    for a in (agent, other):
        account_services.agent_set_status(agent=a, status=AgentStatus.ONLINE)
    # The server holding "dead-server.1" is killed: no disconnect ever runs. The live one keeps
    # refreshing its connection (what the consumer does on frames and pings).
    t = timezone.now()
    live = presence.agent_key(other.pk)
    presence.connection_seen(presence.agent_key(agent.pk), "dead-server.1", at=t.timestamp())
    at_60 = t + dt.timedelta(seconds=60)
    presence.connection_seen(live, "live-server.1", at=at_60.timestamp())
    assert services.presence_sweep(now=at_60) == 0
    assert AgentPresence.objects.get(agent=agent).disconnected_at is None  # not stale yet (90 s)
    at_100 = t + dt.timedelta(seconds=100)
    assert services.presence_sweep(now=at_100) == 0  # silent for 90 s: the grace period starts
    assert AgentPresence.objects.get(agent=agent).disconnected_at == at_100
    assert AgentPresence.objects.get(agent=other).disconnected_at is None
    agent.refresh_from_db()
    assert agent.status == AgentStatus.ONLINE
    at_131 = t + dt.timedelta(seconds=131)
    presence.connection_seen(live, "live-server.1", at=at_131.timestamp())
    assert services.presence_sweep(now=at_131) == 1
    assert services.presence_sweep(now=at_131) == 0  # safe to run twice
    agent.refresh_from_db()
    other.refresh_from_db()
    assert agent.status == AgentStatus.OFFLINE and other.status == AgentStatus.ONLINE


def test_presence_writes_the_database_only_when_the_live_count_changes(dispatch, django_assert_num_queries):
    agent = dispatch.agent(dispatch.org.sh, cap=5)
    account_hooks.run_connection_changed(agent, channel_name="c1", connected=True)
    with django_assert_num_queries(1):  # one UPDATE of the presence row, nothing locked
        account_hooks.run_connection_changed(agent, channel_name="c2", connected=True)
    with django_assert_num_queries(0):  # another connection is live: nothing to write
        account_hooks.run_connection_changed(agent, channel_name="c1", connected=False)
    assert presence.live_connections(presence.agent_key(agent.pk)) == 1


def test_reconnecting_within_grace_keeps_the_agent_online(dispatch):
    dispatch.settings(presence_grace_seconds=30)
    agent = dispatch.agent(dispatch.org.sh, cap=5)
    account_hooks.run_connection_changed(agent, channel_name="c1", connected=True)
    account_hooks.run_connection_changed(agent, channel_name="c1", connected=False)
    account_hooks.run_connection_changed(agent, channel_name="c3", connected=True)
    assert services.agent_presence_check(agent_id=agent.pk, now=timezone.now() + dt.timedelta(minutes=5)) is False
    agent.refresh_from_db()
    assert agent.status == AgentStatus.ONLINE


# --- transfers ------------------------------------------------------------------------------


def test_transfer_accept_moves_the_conversation_and_frees_the_sender(dispatch):
    sender = dispatch.agent(dispatch.org.sh, cap=1)
    conv = dispatch.start()
    waiting = dispatch.start()
    receiver = dispatch.agent(dispatch.org.south, cap=1, status="busy")
    transfer = conv_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=sender, to_agent_id=receiver.pk, note="billing"
    )
    assert Conversation.objects.get(pk=conv.pk).status == ConversationStatus.TRANSFER_PENDING
    conv_services.conversation_transfer_accept(transfer_id=transfer.pk, actor=receiver)
    conv.refresh_from_db()
    assert conv.assignee_id == receiver.pk and conv.status == ConversationStatus.ACTIVE
    # The sender's seat went straight to the visitor who was waiting.
    assert Conversation.objects.get(pk=waiting.pk).assignee_id == sender.pk
    with pytest.raises(ApplicationError) as exc:
        conv_services.conversation_transfer_accept(transfer_id=transfer.pk, actor=receiver)
    assert exc.value.code == "transfer_resolved"


def test_transfer_to_a_full_agent_is_refused_on_request_and_on_accept(dispatch):
    sender = dispatch.agent(dispatch.org.sh, cap=2)
    conv = dispatch.start()
    receiver = dispatch.agent(dispatch.org.sh, cap=1)
    transfer = conv_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=sender, to_agent_id=receiver.pk
    )
    dispatch.start()  # meanwhile the receiver's only seat is taken (idle: least busy gets it)
    with pytest.raises(ApplicationError) as exc:
        conv_services.conversation_transfer_accept(transfer_id=transfer.pk, actor=receiver)
    assert exc.value.code == "agent_full"
    assert Conversation.objects.get(pk=conv.pk).assignee_id == sender.pk
    conv_services.conversation_transfer_decline(transfer_id=transfer.pk, actor=receiver)
    with pytest.raises(ApplicationError) as exc:  # asked now, it is refused at once, with the reason
        conv_services.conversation_transfer_request(conversation_id=conv.pk, actor=sender, to_agent_id=receiver.pk)
    assert exc.value.code == "agent_full" and exc.value.status_code == 409


def test_transfer_decline_and_timeout_return_the_conversation(dispatch):
    from apps.accounts.models import SkillGroup

    sender = dispatch.agent(dispatch.org.sh, cap=5)
    conv = dispatch.start()
    receiver = dispatch.agent(dispatch.org.sh, cap=5, status="busy")
    transfer = conv_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=sender, to_agent_id=receiver.pk
    )
    conv_services.conversation_transfer_decline(transfer_id=transfer.pk, actor=receiver, reason="busy")
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.ACTIVE and conv.assignee_id == sender.pk
    assert Transfer.objects.get(pk=transfer.pk).status == "declined"

    group = SkillGroup.objects.create(tenant=dispatch.org.tenant, name="vip desk")
    group.members.add(receiver)
    dispatch.settings(transfer_timeout_seconds=60)
    transfer = conv_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=sender, to_skill_group_id=group.pk
    )
    assert services.timeout_transfers(now=timezone.now() + dt.timedelta(seconds=30)) == 0
    later = timezone.now() + dt.timedelta(seconds=61)
    assert services.timeout_transfers(now=later) == 1
    assert services.timeout_transfers(now=later) == 0
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.ACTIVE and conv.assignee_id == sender.pk
    assert Transfer.objects.get(pk=transfer.pk).status == "timed_out"
    kinds = list(ConversationEvent.objects.filter(conversation=conv).values_list("kind", flat=True))
    assert kinds[-4:] == ["transfer_requested", "transfer_declined", "transfer_requested", "transfer_timed_out"]


def test_skill_group_member_accepts_a_group_transfer(dispatch):
    from apps.accounts.models import SkillGroup

    sender = dispatch.agent(dispatch.org.sh, cap=5)
    conv = dispatch.start()
    member = dispatch.agent(dispatch.org.south, cap=5, status="busy")
    outsider = dispatch.agent(dispatch.org.south, cap=5, status="busy")
    group = SkillGroup.objects.create(tenant=dispatch.org.tenant, name="billing")
    group.members.add(member)
    transfer = conv_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=sender, to_skill_group_id=group.pk
    )
    with pytest.raises(ApplicationError) as exc:
        conv_services.conversation_transfer_accept(transfer_id=transfer.pk, actor=outsider)
    assert exc.value.status_code == 404
    conv_services.conversation_transfer_accept(transfer_id=transfer.pk, actor=member)
    assert Conversation.objects.get(pk=conv.pk).assignee_id == member.pk


# --- rating -------------------------------------------------------------------------------


def test_rating_invite_and_submit_once(dispatch):
    agent = dispatch.agent(dispatch.org.sh, cap=5)
    conv = dispatch.start()
    conv_services.conversation_invite_rating(conversation_id=conv.pk, actor=agent)
    with pytest.raises(ApplicationError) as exc:
        conv_services.rating_submit(conversation_id=conv.pk, customer=dispatch.visitor(), score=5)
    assert exc.value.status_code == 404
    with pytest.raises(ApplicationError):
        conv_services.rating_submit(conversation_id=conv.pk, customer=conv.customer, score=9)
    rating = conv_services.rating_submit(conversation_id=conv.pk, customer=conv.customer, score=4, comment="ok")
    assert rating.agent_id == agent.pk
    with pytest.raises(ApplicationError) as exc:
        conv_services.rating_submit(conversation_id=conv.pk, customer=conv.customer, score=5)
    assert exc.value.code == "already_rated"


def test_queue_sweep_is_a_safety_net_that_changes_nothing_when_all_is_well(dispatch):
    agent = dispatch.agent(dispatch.org.sh, cap=1)
    dispatch.start()
    stuck = dispatch.start()
    # Simulate a lost wake-up: capacity appears without the event (raised directly in the DB).
    type(agent).objects.filter(pk=agent.pk).update(max_chats=2)
    assert services.queue_sweep() == 1
    assert services.queue_sweep() == 0
    assert Conversation.objects.get(pk=stuck.pk).assignee_id == agent.pk
