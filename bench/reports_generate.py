"""Supervisor centre benchmark data: N conversations (default 100,000) x ~10 messages over a year.

    DATABASE_URL=mysql://root@127.0.0.1:3306/kefu_bench .venv/bin/python manage.py migrate --skip-checks
    DATABASE_URL=mysql://root@127.0.0.1:3306/kefu_bench .venv/bin/python bench/reports_generate.py \
        --conversations 100000 --messages-per-conversation 10

Rows are bulk-inserted (not through the services: the point is volume; the big tables through
multi-row INSERTs from plain tuples), with the same shapes the services write, including the
database search backend's `SearchTerm` rows (`apps.search.terms.text_terms`, as `apps.search.db.index_message` writes them): a lifecycle of events (created -> queued, assigned -> active, closed), visitor
and agent messages in Chinese and English, ~30% rated, tags. Then the rollups are rebuilt for the
year with `rollup_rebuild` (timed) exactly as `manage.py rebuild_rollups` does. The target scale
of the issue is 1,000,000 conversations / 10,000,000 messages: run with --conversations 1000000.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from apps.accounts import services as account_services  # noqa: E402
from apps.accounts.models import Role  # noqa: E402
from apps.channels.models import Channel  # noqa: E402
from apps.conversations.models import Conversation, ConversationEvent, ConversationTag, Rating  # noqa: E402
from apps.customers.models import Customer  # noqa: E402
from apps.messaging.models import Message  # noqa: E402
from apps.reports.rollups import rollup_rebuild  # noqa: E402
from apps.search.models import SearchTerm  # noqa: E402
from apps.search.terms import text_terms  # noqa: E402
from apps.tenants.models import Tenant  # noqa: E402

VISITOR = [
    "你好，我的快递到哪里了？",
    "我要申请退款",
    "订单号 {n} 一直没发货",
    "Where is my parcel {n}?",
    "能帮我改一下收货地址吗",
    "I want a refund for order {n}",
    "发票什么时候开？",
    "投诉：配送太慢了",
    "谢谢",
    "可以开发票吗",
    "How long does delivery take?",
    "我的账号登录不了",
]
AGENT = [
    "您好，请稍等，我帮您查询一下",
    "已为您催促仓库发货",
    "退款会在3个工作日内到账",
    "Your parcel {n} is on its way",
    "请提供一下订单号",
    "已帮您修改地址",
    "还有其他可以帮您的吗？",
    "Sorry for the delay, we are checking",
]


class RawInsert:
    """Multi-row INSERT of `fields` from tuples; every other column gets its field default.

    Datetimes must be UTC; they are passed naive (the way Django stores them on MySQL)."""

    def __init__(self, model, fields: list[str]):
        opts = model._meta
        given = [opts.get_field(f) for f in fields]
        rest = [f for f in opts.concrete_fields if f not in given and f.column and f.name != "id"]
        self.constants = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
        columns = [f.column for f in given + rest]
        qn = connection.ops.quote_name
        self.sql = "INSERT INTO {} ({}) VALUES ({})".format(
            qn(opts.db_table), ", ".join(qn(c) for c in columns), ", ".join(["%s"] * len(columns))
        )
        self.naive = connection.vendor == "mysql"

    def __call__(self, rows: list[tuple], batch: int = 5000) -> None:
        if self.naive:
            rows = [tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in r) for r in rows]
        with connection.cursor() as cur:
            for i in range(0, len(rows), batch):
                cur.executemany(self.sql, [r + self.constants for r in rows[i : i + batch]])


def _no_auto_now(*models):
    for model in models:
        for f in model._meta.fields:
            if getattr(f, "auto_now_add", False):
                f.auto_now_add = False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conversations", type=int, default=100_000)
    ap.add_argument("--messages-per-conversation", type=float, default=10)
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--slug", default="bench-reports")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--skip-rollups", action="store_true")
    args = ap.parse_args()
    rnd = random.Random(42)
    _no_auto_now(Conversation, ConversationEvent, Message, Rating, Customer)
    if connection.vendor == "mysql":
        with connection.cursor() as cur:
            cur.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
    insert_events = RawInsert(
        ConversationEvent,
        ["tenant", "conversation", "kind", "from_status", "to_status", "agent", "branch", "created_at"],
    )
    insert_messages = RawInsert(
        Message, ["id", "tenant", "conversation", "seq", "sender_kind", "sender_user", "body", "created_at"]
    )
    insert_terms = RawInsert(SearchTerm, ["tenant", "term", "created_at", "conversation"])
    term_rows_total = 0

    tenant, created = Tenant.objects.get_or_create(slug=args.slug, defaults={"name": "Bench reports"})
    if not created:
        print("tenant exists; drop the database to regenerate")
        return
    hq = account_services.branch_create(tenant=tenant, name="总部", code=f"{args.slug}-hq")
    regions = [
        account_services.branch_create(tenant=tenant, name=f"大区{i}", code=f"{args.slug}-r{i}", parent=hq)
        for i in range(4)
    ]
    cities = [
        account_services.branch_create(tenant=tenant, name=f"{r.name}-城市{j}", code=f"{r.code}-c{j}", parent=r)
        for r in regions
        for j in range(3)
    ]
    agents = [
        account_services.user_create(
            tenant=tenant,
            username=f"{args.slug}-agent{i}",
            password="bench-pass-2026!",
            role=Role.AGENT,
            branch=cities[i % len(cities)],
            actor=None,
        )
        for i in range(args.agents)
    ]
    for r in regions:
        account_services.user_create(
            tenant=tenant,
            username=f"{args.slug}-sup-{r.code}",
            password="bench-pass-2026!",
            role=Role.SUPERVISOR,
            branch=r,
            actor=None,
        )
    account_services.user_create(
        tenant=tenant,
        username=f"{args.slug}-admin",
        password="bench-pass-2026!",
        role=Role.SUPER_ADMIN,
        branch=hq,
        actor=None,
    )
    channels = [
        Channel.objects.create(tenant=tenant, name=n, kind=k, branch=hq)
        for n, k in (("官网", "web"), ("微信", "wechat"), ("App", "app"), ("合作平台", "partner"))
    ]
    tags = [ConversationTag.objects.create(tenant=tenant, name=n) for n in ("物流", "退款", "发票", "投诉", "账号")]
    n_customers = max(1000, args.conversations // 3)
    t0 = time.monotonic()
    Customer.objects.bulk_create(
        [
            Customer(
                tenant=tenant, display_name=f"客户{i}", phone=f"138{i:08d}", created_at=datetime(2025, 1, 1, tzinfo=UTC)
            )
            for i in range(n_customers)
        ],
        batch_size=5000,
    )
    cust_ids = list(Customer.objects.filter(tenant=tenant).values_list("id", flat=True))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(days=args.days)
    conv_id = (Conversation.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    msg_id = (Message.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    through = Conversation.tags.through
    batch = 2000
    done = 0
    while done < args.conversations:
        convs, events, msgs, ratings, tag_rows, terms = [], [], [], [], [], []
        for _ in range(min(batch, args.conversations - done)):
            created = start + timedelta(seconds=rnd.randrange(args.days * 86400))
            agent = rnd.choice(agents)
            channel = rnd.choice(channels)
            wait = rnd.randint(2, 180)
            frt = rnd.randint(5, 120)
            aht = rnd.randint(60, 1800)
            assigned = created + timedelta(seconds=wait)
            closed = assigned + timedelta(seconds=aht)
            abandoned = rnd.random() < 0.05
            n_msgs = max(2, int(rnd.gauss(args.messages_per_conversation, 2)))
            c = Conversation(
                id=conv_id,
                tenant=tenant,
                channel=channel,
                customer_id=rnd.choice(cust_ids),
                branch_id=agent.branch_id,
                status="closed",
                assignee=None if abandoned else agent,
                created_at=created,
                queued_at=created,
                assigned_at=None if abandoned else assigned,
                first_response_at=None if abandoned else assigned + timedelta(seconds=frt),
                closed_at=closed,
                close_reason="abandoned" if abandoned else "agent_closed",
                last_seq=0 if abandoned else n_msgs,
                last_message_at=closed,
            )
            tid, bid = tenant.pk, agent.branch_id
            events.append((tid, conv_id, "created", "", "queued", None, bid, created))
            if abandoned:
                events.append((tid, conv_id, "closed", "queued", "closed", None, bid, closed))
            else:
                events.append((tid, conv_id, "assigned", "queued", "active", agent.pk, bid, assigned))
                events.append((tid, conv_id, "closed", "active", "closed", None, bid, closed))
                step = aht / n_msgs
                conv_terms: set[int] = set()
                for s in range(1, n_msgs + 1):
                    at = assigned + timedelta(seconds=frt if s == 2 else step * s)
                    is_agent = s % 2 == 0
                    text = rnd.choice(AGENT if is_agent else VISITOR).format(n=rnd.randint(100000, 999999))
                    msgs.append(
                        (
                            msg_id,
                            tid,
                            conv_id,
                            s,
                            "agent" if is_agent else "visitor",
                            agent.pk if is_agent else None,
                            text,
                            at,
                        )
                    )
                    conv_terms |= text_terms(text)
                    msg_id += 1
                terms.extend((tid, t, created, conv_id) for t in conv_terms)
                c.last_message_preview = msgs[-1][6][:200]
                if rnd.random() < 0.3:
                    ratings.append(
                        Rating(
                            tenant=tenant,
                            conversation_id=conv_id,
                            score=rnd.choices([1, 2, 3, 4, 5], weights=[5, 5, 10, 30, 50])[0],
                            agent=agent,
                            created_at=closed + timedelta(seconds=20),
                        )
                    )
            if rnd.random() < 0.6:
                tag_rows.append(through(conversation_id=conv_id, conversationtag_id=rnd.choice(tags).pk))
            convs.append(c)
            conv_id += 1
        with transaction.atomic():
            Conversation.objects.bulk_create(convs, batch_size=batch)
            insert_events(events)
            insert_messages(msgs)
            insert_terms(terms)
            Rating.objects.bulk_create(ratings, batch_size=5000)
            through.objects.bulk_create(tag_rows, batch_size=5000)
        done += len(convs)
        term_rows_total += len(terms)
        if done % 20000 == 0 or done == args.conversations:
            print(
                f"{done} conversations, {msg_id} messages, {term_rows_total} search rows so far,"
                f" {time.monotonic() - t0:.0f}s",
                flush=True,
            )
    print(f"generated in {time.monotonic() - t0:.0f}s")
    if connection.vendor == "mysql":
        with connection.cursor() as cur:
            for table in (
                "conversations_conversation",
                "messaging_message",
                "conversations_conversationevent",
                "reports_searchterm",
            ):
                cur.execute(f"ANALYZE TABLE {table}")
    if not args.skip_rollups:
        t1 = time.monotonic()
        hours = rollup_rebuild(tenant_id=tenant.pk, start=start - timedelta(hours=1), end=now + timedelta(hours=1))
        print(f"rollups rebuilt: {hours} hours in {time.monotonic() - t1:.0f}s")


if __name__ == "__main__":
    main()
