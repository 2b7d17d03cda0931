"""Reconciliation: a generated month of work through the real services (bot hand-offs, transfers
across branches, abandons, re-queues, ratings, late rows); for every branch and agent, every figure
is the same on the report page, in the CSV and XLSX exports, in the API, in the live monitor's
snapshot and on "my statistics", and equal to a brute-force recomputation from the raw rows
written here independently of apps.reports.metrics."""

from __future__ import annotations

import csv
import io
import random
import zoneinfo
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import time_machine
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatusLog, User
from apps.channels.models import Channel
from apps.conversations import services as conv
from apps.conversations.models import Conversation, ConversationEvent, Rating
from apps.core.errors import ApplicationError
from apps.customers.models import Customer
from apps.messaging import services as msg
from apps.messaging.models import Message
from apps.reports import exports, metrics, rollups, selectors
from apps.routing.intake import conversation_intake
from apps.routing.models import RoutingRule
from apps.sla import services as sla
from apps.sla.models import SlaBreach, SlaClock

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
MONTH_START = datetime(2026, 3, 1, tzinfo=SH)
DAYS = 31
# The month is read at 01:30 on 1 April in Shanghai (17:30 UTC on 31 March): the UTC date and the
# tenant's differ, and the last hours are not in the stored rollups yet.
NOW = datetime(2026, 3, 31, 17, 30, tzinfo=UTC)


# --- the generated month --------------------------------------------------------------------


class Month:
    def __init__(self, org, clock, seed=20260301):
        self.org, self.clock, self.rnd = org, clock, random.Random(seed)
        t = org.tenant
        self.channels = [
            Channel.objects.create(tenant=t, name="官网", branch=None),  # tenant-wide
            Channel.objects.create(tenant=t, name="上海微信", branch=org.sh),
            Channel.objects.create(tenant=t, name="华南 App", branch=org.south, bot_enabled=True),
            Channel.objects.create(tenant=t, name="机器人官网", branch=None, bot_enabled=True),
        ]
        # A routing rule sends one keyword of the tenant-wide channel to Pudong.
        RoutingRule.objects.create(
            tenant=t, name="pd", channel=self.channels[0], keywords="浦东", target_branch=org.pd, overflow=False
        )
        self.agents = [org.agent_sh, org.agent_pd, org.agent_south]
        self.agents.append(org.user("agent_south2", "agent", org.south))
        self.agents.append(org.user("agent_east", "agent", org.east))
        for i, a in enumerate(self.agents):
            User.objects.filter(pk=a.pk).update(display_name=f"客服{i + 1}")
            a.refresh_from_db()
        self.n = 0
        # Service levels (wall-clock time: the tenant has no calendar): VIP customers first.
        self.sla_rnd = random.Random(seed + 1)  # its own stream: the month's other draws stay as they were
        for name, order, tier, frt, res in (("VIP", 1, "vip", 120, 900), ("all", 2, "any", 300, 1800)):
            sla.sla_policy_save(
                actor=org.admin,
                tenant_id=t.pk,
                name=name,
                order=order,
                customer_tier=tier,
                first_response_seconds=frt,
                resolution_seconds=res,
            )
        sla.policies_forget()

    def clock_start(self, c):
        # What apps.sla's hook enqueues after the commit (on_commit does not run in this test).
        sla.sla_clock_start(conversation_id=c.pk)

    def at(self, when):
        self.clock.move_to(when)

    def later(self, seconds):
        self.clock.shift(timedelta(seconds=seconds))

    def say(self, c, who=None, body=None):
        self.n += 1
        if who is None:
            return msg.message_create(
                conversation_id=c.pk, sender_kind="visitor", body=body or "你好", client_msg_id=f"v{self.n}"
            )
        return msg.message_create(
            conversation_id=c.pk, sender_kind="agent", sender_user=who, body="您好", client_msg_id=f"a{self.n}"
        )

    def status(self, agent, status):
        account_services.agent_set_status(agent=agent, status=status)

    def day(self, d: int):
        rnd = self.rnd
        base = MONTH_START + timedelta(days=d)
        self.at(base + timedelta(hours=8, minutes=rnd.randint(0, 50)))
        on = rnd.sample(self.agents, k=rnd.randint(3, 5))
        for a in on:
            self.status(a, "online")
        self.later(60)
        for k in range(rnd.randint(2, 4)):
            self.at(base + timedelta(hours=9 + 2 * k, minutes=rnd.randint(0, 59), seconds=rnd.randint(0, 59)))
            self.conversation(on)
        if rnd.random() < 0.5:
            a = rnd.choice(on)
            self.status(a, "busy")
            self.later(rnd.randint(300, 1800))
            self.status(a, "away")
            self.later(rnd.randint(60, 900))
            self.status(a, "online")
        # Most sign off in the evening; some stay signed in across midnight.
        self.at(base + timedelta(hours=23, minutes=rnd.randint(0, 40)))
        for a in on:
            if rnd.random() < 0.8:
                self.status(a, "offline")
        self.later(rnd.randint(1800, 5400))
        for a in self.agents:
            self.status(a, "offline")
        if d % 3 == 0:
            sla.sla_check()  # breach rows, days late for some
            rollups.rollup_refresh()  # the beat, now and then: later rows are "late" for it

    def conversation(self, on):
        rnd = self.rnd
        channel = rnd.choice(self.channels)
        subject = "浦东网点" if rnd.random() < 0.2 else ""
        customer = Customer.objects.create(
            tenant=self.org.tenant, display_name=f"访客{self.n}", is_vip=self.sla_rnd.random() < 0.3
        )
        c = conversation_intake(channel=channel, customer=customer, subject=subject)
        self.clock_start(c)
        self.say(c)
        self.later(rnd.randint(5, 60))
        if channel.bot_enabled:
            self.say(c, body="查快递")
            self.later(rnd.randint(5, 90))
            if rnd.random() < 0.2:  # the bot answered, the visitor left
                conv.conversation_close(conversation_id=c.pk, reason="visitor_left")
                return
            conv.conversation_handoff_to_human(conversation_id=c.pk, text=subject)
            self.clock_start(c)
        c.refresh_from_db()
        if rnd.random() < 0.15:  # abandoned in the queue
            self.later(rnd.randint(30, 600))
            conv.conversation_close(conversation_id=c.pk, reason="visitor_left")
            return
        self.later(rnd.randint(3, 400))
        agent = self.take(c, on)
        if agent is None:
            self.later(rnd.randint(60, 300))
            conv.conversation_close(conversation_id=c.pk, reason="queue_timeout")
            return
        if rnd.random() < 0.15:  # no answer in time: back to the queue, someone else takes it
            self.later(rnd.randint(60, 180))
            conv.conversation_requeue(conversation_id=c.pk, reason="first_response_timeout")
            self.later(rnd.randint(5, 120))
            agent = self.take(c, [a for a in on if a.pk != agent.pk])
            if agent is None:
                self.later(120)
                conv.conversation_close(conversation_id=c.pk, reason="queue_timeout")
                return
        self.later(rnd.randint(2, 90))
        self.say(c, agent)
        for _ in range(rnd.randint(0, 3)):
            self.later(rnd.randint(10, 120))
            self.say(c)
            self.later(rnd.randint(5, 60))
            self.say(c, agent)
        # A transfer, often to another branch, to someone who can take it now (others are refused).
        ready = [a for a in self.agents if a.pk != agent.pk and conv.agent_can_serve(type(a).objects.get(pk=a.pk))[0]]
        if rnd.random() < 0.3 and ready:
            other = rnd.choice(ready)
            self.later(rnd.randint(10, 60))
            t = conv.conversation_transfer_request(conversation_id=c.pk, actor=agent, to_agent_id=other.pk)
            self.later(rnd.randint(5, 60))
            if rnd.random() < 0.7:
                conv.conversation_transfer_accept(transfer_id=t.pk, actor=other)
                agent = other
                self.later(rnd.randint(5, 60))
                self.say(c, agent)
            else:
                conv.conversation_transfer_decline(transfer_id=t.pk, actor=other)
        if rnd.random() < 0.15:  # a late message: written now, stamped 20 minutes earlier (a delayed channel)
            m = self.say(c)
            Message.objects.filter(pk=m.pk).update(created_at=m.created_at - timedelta(minutes=20))
        self.later(rnd.randint(30, 900))
        conv.conversation_close(conversation_id=c.pk, actor=agent)
        roll = rnd.random()
        if roll < 0.5:
            self.later(rnd.randint(5, 120))
            conv.rating_submit(conversation_id=c.pk, customer=customer, score=rnd.randint(1, 5))
        elif roll < 0.6:  # a late rating: the visitor comes back to it the next day
            when = self.clock_now() + timedelta(hours=rnd.randint(12, 30))
            saved = self.clock_now()
            self.at(when)
            conv.rating_submit(conversation_id=c.pk, customer=customer, score=rnd.randint(1, 5))
            self.at(saved)

    def clock_now(self):
        return timezone.now()

    def take(self, c, on):
        c.refresh_from_db()
        eligible = [a for a in on if not c.reach_path or a.branch.path.startswith(c.reach_path)]
        for a in self.rnd.sample(eligible, k=len(eligible)):
            if a.status == "offline":
                continue
            try:
                conv.conversation_assign(conversation_id=c.pk, agent_id=a.pk, require_online=False)
            except ApplicationError:
                continue  # full or no longer waiting: the next agent tries
            return a
        return None


# --- brute force from the raw rows (independent of apps.reports.metrics) ---------------------


def brute_force(tenant, start, end, now):
    """{(branch_id, agent_id): {counter: value}} over [start, end), straight from the rows."""
    cells = defaultdict(lambda: defaultdict(float))
    staff = {"agent", "supervisor", "salesperson"}

    def put(branch, agent, key, value=1):
        cells[(branch, agent)][key] += value

    all_events, all_msgs = defaultdict(list), defaultdict(list)
    for e in ConversationEvent.objects.filter(tenant=tenant).order_by("created_at", "id"):
        all_events[e.conversation_id].append(e)
    visible = Message.objects.filter(tenant=tenant, visibility="all", sender_kind__in=staff | {"visitor"})
    for m in visible.order_by("created_at", "seq"):
        all_msgs[m.conversation_id].append(m)
    all_ratings = {r.conversation_id: r for r in Rating.objects.filter(tenant=tenant)}
    clocks = {k.conversation_id: k for k in SlaClock.objects.filter(tenant=tenant)}
    for c in Conversation.objects.filter(tenant=tenant):
        evs = all_events[c.pk]
        # Branch after each event: its own, else the next event's that has one.
        branch_after = []
        for i, e in enumerate(evs):
            b = e.branch_id or next((x.branch_id for x in evs[i + 1 :] if x.branch_id), 0)
            branch_after.append(b)

        def branch_at(ts, evs=evs, branch_after=branch_after):
            held = [b for e, b in zip(evs, branch_after, strict=True) if e.created_at <= ts]
            return held[-1] if held else (branch_after[0] if branch_after else 0)

        inside = lambda ts: start <= ts < end  # noqa: E731
        msgs = all_msgs[c.pk]
        last_agent, queued_at, first_accept = 0, None, None
        takes = []  # (ts, agent, branch)
        closes = []
        for e, b in zip(evs, branch_after, strict=True):
            a = e.agent_id or 0
            ts = e.created_at
            if e.to_status == "queued" and e.from_status != "queued":
                if inside(ts):
                    put(b, 0, "offered")
                queued_at, first_accept = ts, None
            if e.kind in ("transfer_declined", "transfer_timed_out"):
                if a and inside(ts):
                    put(b, a, "agent_offered")
                continue
            if e.to_status == "active" and a and (e.from_status != "active" or a != last_agent):
                if inside(ts):
                    put(b, a, "agent_offered")
                    put(b, a, "agent_accepted")
                if e.from_status in ("queued", "bot", ""):
                    if inside(ts):
                        put(b, a, "accepted")
                    if queued_at is not None and inside(ts):
                        put(b, a, "wait_sum", (ts - queued_at).total_seconds())
                        put(b, a, "wait_count")
                queued_at = None
                takes.append((ts, a, b))
                first_accept = first_accept or ts
                last_agent = a
            if e.to_status == "closed" and e.from_status != "closed":
                closes.append(ts)
                if e.from_status == "queued" and inside(ts):
                    put(b, 0, "abandoned")
                if first_accept is not None and inside(ts):
                    put(b, last_agent, "aht_sum", (ts - first_accept).total_seconds())
                    put(b, last_agent, "aht_count")
                queued_at = first_accept = None
        for i, (ts, a, b) in enumerate(takes):
            until = takes[i + 1][0] if i + 1 < len(takes) else None
            close = min((x for x in closes if x >= ts), default=None)
            reply = next((m.created_at for m in msgs if m.sender_kind in staff and m.created_at >= ts), None)
            if reply is None or (until and reply >= until) or (close and reply > close) or not inside(reply):
                continue
            put(b, a, "frt_sum", (reply - ts).total_seconds())
            put(b, a, "frt_count")
        for m in msgs:
            if inside(m.created_at):
                agent = (m.sender_user_id or 0) if m.sender_kind in staff else 0
                put(branch_at(m.created_at), agent, "messages")
                put(branch_at(m.created_at), agent, "messages_agent" if agent else "messages_visitor")
        r = all_ratings.get(c.pk)
        if r is not None and inside(r.created_at):
            put(branch_at(r.created_at), r.agent_id or last_agent, "ratings")
            put(branch_at(r.created_at), r.agent_id or last_agent, f"score_{r.score}")
        clock = clocks.get(c.pk)
        if clock is not None:
            _brute_sla(clock, evs, msgs, branch_at, put, inside, now)
    for agent_id in set(AgentStatusLog.objects.filter(tenant=tenant).values_list("agent_id", flat=True)):
        logs = list(AgentStatusLog.objects.filter(agent_id=agent_id).order_by("created_at", "id"))
        for i, log in enumerate(logs):
            lo = max(log.created_at, start)
            hi = min(logs[i + 1].created_at if i + 1 < len(logs) else now, end, now)
            if hi <= lo or log.status == "offline":
                continue
            secs = (hi - lo).total_seconds()
            put(log.branch_id_at_time, agent_id, "logged_in_s", secs)
            if log.status in ("online", "busy", "away"):
                put(log.branch_id_at_time, agent_id, f"{log.status}_s", secs)
    return cells


def _brute_sla(clock, evs, msgs, branch_at, put, inside, now):
    """Service-level outcomes: met when the reply (close) came by the due time, breached at the
    due time otherwise; nothing for a customer who left unanswered before the due time."""
    staff = {"agent", "supervisor", "salesperson"}

    def holder(ts, strictly_before=False):
        who = 0
        for e in evs:
            if e.created_at > ts or (strictly_before and e.created_at == ts):
                break
            if e.to_status == "active" and e.agent_id and e.kind not in ("transfer_declined", "transfer_timed_out"):
                who = e.agent_id
            elif e.to_status in ("queued", "closed", "bot") and e.from_status != e.to_status:
                who = 0
        return who

    reply = next((m for m in msgs if m.sender_kind in staff and m.created_at >= clock.started_at), None)
    close = next(
        (
            e.created_at
            for e in evs
            if e.to_status == "closed" and e.from_status != "closed" and e.created_at >= clock.started_at
        ),
        None,
    )
    due = clock.first_response_due
    if reply is not None and reply.created_at <= due:
        if inside(reply.created_at):
            put(branch_at(reply.created_at), reply.sender_user_id, "sla_frt_met")
    elif due <= now and not (close is not None and close < due and (reply is None or reply.created_at > close)):
        if inside(due):
            put(branch_at(due), holder(due), "sla_frt_breached")
    due = clock.resolution_due
    if close is not None and close <= due:
        if inside(close):
            put(branch_at(close), holder(close, strictly_before=True), "sla_res_met")
    elif due <= now and inside(due):
        put(branch_at(due), holder(due), "sla_res_breached")


def group(cells, by, keep=lambda branch: True):
    out = defaultdict(lambda: dict.fromkeys(metrics.COUNTERS, 0.0))
    for (branch, agent), cell in cells.items():
        if not keep(branch):
            continue
        key = branch if by == "branch" else agent
        for k, v in cell.items():
            out[key][k] += v
    return out


def shown(row, columns):
    """Every column of a row as people read it."""
    return {k: metrics.display(row.get(k), kind) for k, _label, kind in columns}


# --- reading each surface -------------------------------------------------------------------


class TableParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.row, self.key, self.text = {}, None, None, ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-row" in a:
            self.row = self.rows.setdefault(a["data-row"], {})
        elif tag == "td" and self.row is not None and "data-k" in a:
            self.key, self.text = a["data-k"], ""

    def handle_data(self, data):
        if self.key:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "td" and self.key:
            self.row[self.key] = self.text.strip()
            self.key = None
        elif tag == "tr":
            self.row = None


def page_table(client, params):
    p = TableParser()
    body = client.get("/supervisor/reports/", params).content.decode()
    p.feed(body)
    return p.rows


def export_table(actor, params, fmt, columns):
    job = exports.export_create(actor=actor, filters=params, format=fmt, kind="report")
    job = exports.export_run(job_id=job.pk)
    assert job.status == "done", job.error
    keys = [k for k, _l, _kind in columns]
    if fmt == "csv":
        lines = list(csv.reader(io.StringIO(job.file.open("rb").read().decode("utf-8-sig"))))
        head = next(i for i, r in enumerate(lines) if r and r[1:] == [str(label) for _k, label, _kind in columns])
        # An undefined figure (no data) is an empty cell in exports, "-" on screens.
        return {r[0]: {k: v or "-" for k, v in zip(keys, r[1:], strict=True)} for r in lines[head + 1 :]}
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(job.file.open("rb").read())).active
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    head = next(i for i, r in enumerate(values) if r and list(r[1:]) == [str(label) for _k, label, _kind in columns])
    out = {}
    for r in values[head + 1 :]:
        cells = {}
        for (k, _label, kind), v in zip(columns, r[1:], strict=True):
            if kind == metrics.DURATION:
                cells[k] = "-" if v is None else metrics.hms(v.total_seconds())
            elif kind == metrics.PERCENT:
                cells[k] = "-" if v is None else metrics.pct(v * 100)
            else:
                cells[k] = metrics.count(v)
        out[r[0]] = cells
    return out


# --- the test -------------------------------------------------------------------------------


def test_every_figure_is_the_same_everywhere_and_equals_the_raw_rows(org_a, client, api_client):
    org = org_a
    with time_machine.travel(MONTH_START, tick=False) as clock:
        rollups.rollup_refresh()  # the beat was running before the month began
        month = Month(org, clock)
        for d in range(DAYS):
            month.day(d)
        clock.move_to(NOW)
        # Signed in after midnight: today's logged-in time grows until now.
        account_services.agent_set_status(agent=org.agent_sh, status="online")
        clock.move_to(NOW + timedelta(minutes=1))
        # Up to now: stored rollups stop a few hours ago; later rows are read live.
        rollups.rollup_refresh()
        month.at(NOW + timedelta(minutes=2))
        month.conversation([org.agent_sh])  # after the last refresh: read live only
        now = NOW + timedelta(minutes=30)
        clock.move_to(now)
        sla.sla_check()
        _every_case_happened(org)
        with translation.override("zh-hans"):
            _check(org, client, api_client, month, now)


def _check(org, client, api_client, month, now):
    params = {"from": "2026-03-01", "to": "2026-04-01", "grain": "d"}
    start = MONTH_START
    end = datetime(2026, 4, 2, tzinfo=SH)
    raw = brute_force(org.tenant, start, end, now)
    names = {a.pk: a.name for a in month.agents}
    branch_names = {b.pk: b.name for b in (org.hq, org.east, org.sh, org.pd, org.south)}
    compared = 0
    for actor, scope in ((org.admin, None), (org.sup_east, org.east)):
        keep = (lambda b: True) if scope is None else (lambda b, p=scope.path: b and _path(b).startswith(p))
        client.force_login(actor)
        api_client.force_login(actor)
        for dimension in ("branch", "agent"):
            columns = metrics.report_columns(dimension)
            q = {**params, "dimension": dimension}
            expected = {}
            for key, cell in group(raw, dimension, keep).items():
                if dimension == "agent" and not key:
                    continue
                name = (names if dimension == "agent" else branch_names).get(key) or gettext("(none)")
                row = selectors.finish(dict(cell))
                if not any(row[k] for k in metrics.COUNTERS):
                    continue
                expected[name] = shown(row, columns)
            page = page_table(client, q)
            page = {k: v for k, v in page.items() if k != "total"}
            api = api_client.get("/api/v1/reports/", q).json()
            api_rows = {r["name"]: shown(r, columns) for r in api["rows"]}
            csv_rows = export_table(actor, q, "csv", columns)
            xlsx_rows = export_table(actor, q, "xlsx", columns)
            total_label = gettext("Total")
            for surface, rows in (("page", page), ("api", api_rows), ("csv", csv_rows), ("xlsx", xlsx_rows)):
                rows = {k: v for k, v in rows.items() if k != total_label}
                assert rows == expected, (actor.username, dimension, surface)
                compared += 1
            # Totals: page, API and exports agree with the sum of the raw rows.
            total = shown(selectors.finish(dict(_sum(group(raw, dimension, keep), dimension))), columns)
            assert shown(api["total"], columns) == total
            assert csv_rows[total_label] == total and xlsx_rows[total_label] == total
    # KPI: East's connect rate over its subtree, against a target.
    from apps.reports.models import KpiTarget

    KpiTarget.objects.create(tenant=org.tenant, branch=org.east, metric="connect_rate", target=80)
    east = selectors.finish(
        _sum(group(raw, "branch", lambda b, p=org.east.path: b and _path(b).startswith(p)), "branch")
    )
    client.force_login(org.admin)
    rng = selectors.parse_range(tz=SH, date_from=params["from"], date_to=params["to"], grain="d")
    (kpi,) = selectors.kpi_table(actor=org.admin, rng=rng)
    assert kpi["value"] == east["connect_rate"] and kpi["met"] == (east["connect_rate"] >= 80)
    assert (
        f"<td>{metrics.pct(east['connect_rate'])}</td>" in client.get("/supervisor/reports/", params).content.decode()
    )
    # Nothing negative anywhere.
    for cell in raw.values():
        assert all(v >= 0 for v in cell.values())
    assert compared == 16
    _check_monitor_and_my_statistics(org, client, api_client, month, raw, now)


def _every_case_happened(org):
    """The generator really produced each case the figures must survive."""
    events = ConversationEvent.objects.filter(tenant=org.tenant)
    assert Conversation.objects.filter(tenant=org.tenant).count() >= 75
    assert events.filter(kind="handoff").count() >= 5
    assert events.filter(kind="requeued").count() >= 3
    assert events.filter(kind="closed", from_status="queued").count() >= 3
    assert events.filter(kind="transfer_declined").count() >= 1
    moved = [
        e
        for e in events.filter(kind="transfer_accepted")
        if e.branch_id != events.filter(conversation_id=e.conversation_id, id__lt=e.id).last().branch_id
    ]
    assert len(moved) >= 3  # transfers across branches
    assert events.filter(kind="created", branch__isnull=True).count() >= 5  # tenant-wide queues
    ratings = Rating.objects.filter(tenant=org.tenant).select_related("conversation")
    assert ratings.count() >= 20
    assert any(r.created_at - r.conversation.closed_at > timedelta(hours=12) for r in ratings)  # late ratings
    stamps = defaultdict(list)
    for cid, ts in (
        Message.objects.filter(tenant=org.tenant)
        .order_by("conversation_id", "seq")
        .values_list("conversation_id", "created_at")
    ):
        stamps[cid].append(ts)
    late = sum(any(b < a for a, b in zip(t, t[1:], strict=False)) for t in stamps.values())
    assert late >= 3  # messages stamped before ones written earlier
    # Service levels: both targets met and breached, on both policies, and customers who left.
    breaches = SlaBreach.objects.filter(tenant=org.tenant)
    assert breaches.filter(kind="first_response").count() >= 5 and breaches.filter(kind="resolution").count() >= 5
    clocks = SlaClock.objects.filter(tenant=org.tenant)
    assert clocks.filter(policy__name="VIP").count() >= 10 and clocks.filter(policy__name="all").count() >= 10
    assert clocks.filter(first_response_breached=False, first_response_at__isnull=False).count() >= 5
    left = clocks.filter(
        conversation__first_response_at__isnull=True, conversation__closed_at__lt=F("first_response_due")
    )
    assert left.count() >= 2


def _sum(grouped, dimension):
    out = dict.fromkeys(metrics.COUNTERS, 0.0)
    for cell in grouped.values():
        for k in metrics.COUNTERS:
            out[k] += cell[k]
    return out


def _path(branch_id):
    from apps.accounts.models import Branch

    return Branch.objects.get(pk=branch_id).path


def _check_monitor_and_my_statistics(org, client, api_client, month, raw_month, now):
    # "Today" (1 April in Shanghai): the monitor's figures equal the raw rows of today.
    today_start = datetime(2026, 4, 1, tzinfo=SH)
    today = brute_force(org.tenant, today_start, today_start + timedelta(days=1), now)
    for actor, scope in ((org.admin, None), (org.sup_east, org.east)):
        keep = (lambda b: True) if scope is None else (lambda b, p=scope.path: b and _path(b).startswith(p))
        snap = selectors.monitor_snapshot(actor=actor, tz=SH)["today"]
        expected = selectors.finish(_sum(group(today, "branch", keep), "branch"))
        columns = metrics.report_columns("branch")
        assert shown(snap, columns) == shown(expected, columns)
    # My statistics: every agent's figures over the month equal their row of the agent report.
    by_agent = group(raw_month, "agent")
    for agent in month.agents:
        api_client.force_login(agent)
        mine = api_client.get("/api/v1/workbench/stats/", {"from": "2026-03-01", "to": "2026-04-01"}).json()
        row = selectors.finish(dict(by_agent.get(agent.pk, dict.fromkeys(metrics.COUNTERS, 0.0))))
        assert (mine["offered"], mine["received"], mine["closed"]) == (
            row["agent_offered"],
            row["agent_accepted"],
            row["aht_count"],
        )
        assert mine["connect_rate"] == row["agent_connect_rate"]
        assert (mine["wait_avg"], mine["first_response_avg"], mine["handling_avg"]) == (
            row["wait_avg"],
            row["frt_avg"],
            row["aht_avg"],
        )
        assert (mine["messages_sent"], mine["ratings"], mine["satisfaction"]) == (
            row["messages_agent"],
            row["ratings"],
            row["satisfaction"],
        )
        assert mine["logged_in_seconds"] == round(row["logged_in_s"])
        client.force_login(agent)
        page = client.get("/workbench/stats/", {"from": "2026-03-01", "to": "2026-04-01"}).content.decode()
        assert f'data-k="first_response_avg">{metrics.hms(row["frt_avg"])}<' in page
        assert f'data-k="connect_rate">{metrics.pct(row["agent_connect_rate"])}<' in page
