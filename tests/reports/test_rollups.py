"""Every report figure on a hand-built history; rollups equal a recomputation from raw rows."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.core.management import call_command

from apps.conversations.models import ConversationEvent
from apps.core.errors import NotFound
from apps.messaging.models import Message
from apps.reports import rollups, selectors
from apps.reports.models import DirtyBucket, Grain, ReportRow, TagReportRow
from tests.reports.conftest import T0

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.smoke


def _day(actor, grain="d", branch_id=None, dimension="agent"):
    rng = selectors.parse_range(tz=SH, date_from="2026-03-02", date_to="2026-03-02", grain=grain)
    return selectors.report_table(actor=actor, dimension=dimension, rng=rng, branch_id=branch_id)


def _build(history):
    org = history.org
    h = history
    c1 = h.served(at=T0, agent=org.agent_sh, frt=60, aht=600, score=5, tags=("billing",))
    c2 = h.served(
        at=T0 + timedelta(minutes=10),
        agent=org.agent_pd,
        branch=org.pd,
        channel="wechat",
        frt=120,
        aht=300,
        score=2,
        tags=("billing", "refund"),
    )
    # Abandoned: queued, never accepted.
    c3 = h.conversation(at=T0 + timedelta(minutes=20))
    h.event(c3, at=T0 + timedelta(minutes=20), kind="created", to="queued")
    h.message(c3, at=T0 + timedelta(minutes=21))
    h.event(c3, at=T0 + timedelta(minutes=25), kind="closed", frm="queued", to="closed")
    # Transferred: agent_sh takes it, transfers to agent_pd; each answers once.
    t = T0 + timedelta(minutes=30)
    c4 = h.conversation(at=t)
    h.event(c4, at=t, kind="created", to="queued")
    h.event(c4, at=t + timedelta(seconds=10), kind="assigned", frm="queued", to="active", agent=org.agent_sh)
    h.message(c4, at=t + timedelta(seconds=40), sender="agent", user=org.agent_sh)
    h.event(
        c4,
        at=t + timedelta(seconds=100),
        kind="transfer_requested",
        frm="active",
        to="transfer_pending",
        agent=org.agent_sh,
    )
    h.event(
        c4,
        at=t + timedelta(seconds=110),
        kind="transfer_accepted",
        frm="transfer_pending",
        to="active",
        agent=org.agent_pd,
    )
    h.message(c4, at=t + timedelta(seconds=130), sender="agent", user=org.agent_pd)
    # Not counted: a whisper, an internal note, a bot message.
    h.message(c4, at=t + timedelta(seconds=131), sender="supervisor", user=org.sup_east, visibility="staff")
    h.message(c4, at=t + timedelta(seconds=132), sender="bot")
    h.event(c4, at=t + timedelta(seconds=1010), kind="closed", frm="active", to="closed")
    # A declined offer to agent_south (agent offered, not accepted).
    c5 = h.conversation(at=T0 + timedelta(minutes=40), branch=org.south)
    h.event(c5, at=T0 + timedelta(minutes=40), kind="created", to="queued")
    h.event(c5, at=T0 + timedelta(minutes=41), kind="offer_declined", frm="queued", to="queued", agent=org.agent_south)
    # Status: online 30 min, busy 15, away 45 (across the hour), then offline.
    h.status(org.agent_sh, at=T0, status="online")
    h.status(org.agent_sh, at=T0 + timedelta(minutes=30), status="busy")
    h.status(org.agent_sh, at=T0 + timedelta(minutes=45), status="away")
    h.status(org.agent_sh, at=T0 + timedelta(minutes=90), status="offline")
    return c1, c2, c3, c4, c5


def test_every_figure_matches_its_definition(history):
    org = history.org
    _build(history)
    rollups.rollup_rebuild(
        tenant_id=org.tenant.pk, start=T0 - timedelta(hours=2), end=T0 + timedelta(hours=6), now=T0 + timedelta(hours=6)
    )
    branch = _day(org.admin, dimension="branch")["total"]
    assert branch["offered"] == 5
    assert branch["accepted"] == 3  # c1, c2, c4 (the transfer is not a second acceptance)
    assert branch["connect_rate"] == 60.0
    assert branch["abandoned"] == 1
    assert branch["frt_count"] == 4 and branch["frt_sum"] == 60 + 120 + 30 + 20
    assert branch["aht_count"] == 3 and branch["aht_sum"] == 600 + 300 + 1000
    assert branch["aht_avg"] == round(1900 / 3, 1)
    # c1: 1 visitor + 1 agent, c2: 1 + 1, c3: 1 visitor, c4: 2 agent (whisper and bot excluded)
    assert (branch["messages"], branch["messages_visitor"], branch["messages_agent"]) == (7, 3, 4)
    assert branch["ratings"] == 2 and branch["score_5"] == 1 and branch["score_2"] == 1
    assert branch["satisfaction"] == 50.0
    assert branch["logged_in_s"] == 90 * 60
    assert (branch["online_s"], branch["busy_s"], branch["away_s"]) == (1800, 900, 2700)

    agents = {r["id"]: r for r in _day(org.admin)["rows"]}
    sh, pd, south = agents[org.agent_sh.pk], agents[org.agent_pd.pk], agents[org.agent_south.pk]
    assert (sh["agent_offered"], sh["agent_accepted"], sh["accepted"]) == (2, 2, 2)
    assert (pd["agent_offered"], pd["agent_accepted"], pd["accepted"]) == (2, 2, 1)
    assert (south["agent_offered"], south["agent_accepted"], south["agent_connect_rate"]) == (1, 0, 0.0)
    assert sh["frt_avg"] == 45.0 and pd["frt_avg"] == 70.0  # sh: (60+30)/2, pd: (120+20)/2
    assert pd["aht_count"] == 2  # the transferred conversation closes on its last agent
    assert sh["ratings"] == 1 and sh["satisfaction"] == 100.0 and pd["satisfaction"] == 0.0

    channels = {r["name"]: r for r in _day(org.admin, dimension="channel")["rows"]}
    assert channels["wechat"]["offered"] == 1 and channels["web"]["offered"] == 4
    tags = {r["name"]: r for r in _day(org.admin, dimension="tag")["rows"]}
    assert tags["billing"]["accepted"] == 2 and tags["refund"]["accepted"] == 1
    assert tags["billing"]["ratings"] == 2 and tags["refund"]["score_2"] == 1

    # By hour: the away time is split at the hour boundary.
    hourly = selectors.report_series(
        actor=org.admin, rng=selectors.parse_range(tz=SH, date_from="2026-03-02", date_to="2026-03-02", grain="h")
    )
    by_label = {r["label"]: r for r in hourly}
    assert by_label["03-02 09:00"]["away_s"] == 900 and by_label["03-02 10:00"]["away_s"] == 1800
    assert len(hourly) == 24


def _rows(model):
    fields = ["grain", "bucket", "branch_id", *(["agent_id", "channel_id"] if model is ReportRow else ["tag_id"])]
    return sorted(
        tuple(getattr(r, f) for f in fields)
        + tuple(
            round(getattr(r, c), 3)
            for c in ("offered", "accepted", "frt_sum", "aht_sum", "messages", "ratings", "logged_in_s")
        )
        for r in model.objects.all()
    )


def test_incremental_refresh_with_late_events_equals_full_rebuild(history, settings):
    org = history.org
    c1, c2, *_ = _build(history)
    now = T0 + timedelta(hours=5)
    rollups.rollup_refresh(now=now)  # first run: cursors start at the current rows (history is rebuild's job)
    rollups.rollup_rebuild(tenant_id=org.tenant.pk, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1), now=now)
    rollups.rollup_refresh(now=now)
    assert not DirtyBucket.objects.filter(hour__lt=T0 + timedelta(hours=4)).exists()
    # Late arrivals: an event and a message for an old conversation, a late rating, a late conversation.
    late = history.conversation(at=T0 + timedelta(minutes=5), branch=org.south)
    history.event(late, at=T0 + timedelta(minutes=5), kind="created", to="queued")
    history.event(late, at=T0 + timedelta(minutes=6), kind="assigned", frm="queued", to="active", agent=org.agent_south)
    history.message(late, at=T0 + timedelta(minutes=7), sender="agent", user=org.agent_south)
    history.event(late, at=T0 + timedelta(minutes=50), kind="closed", frm="active", to="closed")
    history.rating(late, at=T0 + timedelta(minutes=51), score=1)
    # An earlier agent reply for c2 arrives late: its first response time gets shorter.
    history.message(c2, at=T0 + timedelta(minutes=10, seconds=40), sender="agent", user=org.agent_pd)
    rollups.rollup_refresh(now=now)
    incremental = (_rows(ReportRow), _rows(TagReportRow))
    ReportRow.objects.all().delete()
    TagReportRow.objects.all().delete()
    rollups.rollup_rebuild(tenant_id=org.tenant.pk, start=T0 - timedelta(days=1), end=T0 + timedelta(days=1), now=now)
    assert (_rows(ReportRow), _rows(TagReportRow)) == incremental

    # And the totals equal a direct count over the raw rows.
    total = _day(org.admin, dimension="branch")["total"]
    raw_offered = ConversationEvent.objects.filter(to_status="queued").exclude(from_status="queued").count()
    raw_msgs = Message.objects.filter(visibility="all", sender_kind__in=["visitor", "agent", "supervisor"]).count()
    assert total["offered"] == raw_offered == 6
    assert total["messages"] == raw_msgs
    assert total["ratings"] == 3 and total["score_1"] == 1
    pd = {r["id"]: r for r in _day(org.admin)["rows"]}[org.agent_pd.pk]
    assert pd["frt_sum"] == 10 + 20  # c2 now answered after 10 s


def test_rebuild_command_is_idempotent(history):
    _build(history)
    call_command("rebuild_rollups", "--from", "2026-03-01", "--to", "2026-03-03")
    first = (_rows(ReportRow), _rows(TagReportRow))
    assert first[0]
    call_command("rebuild_rollups", "--from", "2026-03-01", "--to", "2026-03-03", "--tenant", history.tenant.slug)
    assert (_rows(ReportRow), _rows(TagReportRow)) == first
    assert ReportRow.objects.filter(grain=Grain.DAY).exists()


def test_reports_are_scoped_to_subtree_and_tenant(history, history_b):
    org = history.org
    _build(history)
    history_b.served(at=T0, agent=history_b.org.agent_sh, score=1)
    for h in (history, history_b):
        rollups.rollup_rebuild(
            tenant_id=h.tenant.pk, start=T0, end=T0 + timedelta(hours=4), now=T0 + timedelta(hours=4)
        )
    east = _day(org.sup_east, dimension="branch")
    assert {r["name"] for r in east["rows"]} == {"Shanghai", "Pudong"}
    assert east["total"]["offered"] == 4  # the South conversation is outside East
    assert org.agent_south.pk not in {r["id"] for r in _day(org.sup_east)["rows"]}
    south = _day(org.sup_south, dimension="branch")
    assert south["total"]["offered"] == 1 and south["total"]["accepted"] == 0
    # Tenant A's admin sees none of tenant B; B's branch id is "not found" for A.
    assert _day(org.admin, dimension="branch")["total"]["ratings"] == 2
    with pytest.raises(NotFound):
        _day(org.admin, branch_id=history_b.org.sh.pk)
    with pytest.raises(NotFound):
        _day(org.sup_east, branch_id=org.south.pk)
    assert _day(history_b.org.admin, dimension="branch")["total"]["ratings"] == 1


def test_a_history_marked_dirty_is_worked_off_newest_first_and_reads_stay_bounded(history):
    import time_machine

    org = history.org
    tenant = org.tenant.pk
    now = T0 + timedelta(days=30)
    hours = [T0 + timedelta(hours=i) for i in range(30 * 24)]
    DirtyBucket.objects.bulk_create([DirtyBucket(tenant_id=tenant, hour=h) for h in hours])
    with time_machine.travel(now, tick=False):
        live = rollups.live_hours(tenant_id=tenant, start=T0, end=now + timedelta(hours=1))
        assert len(live) == rollups.MAX_LIVE_HOURS and live[-1] == now.replace(minute=0)
        rollups.rollup_refresh()
        left = list(DirtyBucket.objects.filter(tenant_id=tenant).order_by("hour").values_list("hour", flat=True))
        assert len(left) == 30 * 24 - rollups.MAX_HOURS_PER_RUN
        assert max(left) < now - timedelta(days=6)  # the newest week went first
