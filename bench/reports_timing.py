"""Time the main report and the history page on the data of bench/reports_generate.py.

    DATABASE_URL=mysql://root@127.0.0.1:3306/kefu_bench .venv/bin/python bench/reports_timing.py --slug bench-reports

Each measurement is the median of --runs warm runs (the first, cold run is printed apart). The
"main report" is everything the report page computes for a year by day: the per-agent table, the
daily series for the charts and the KPI table; "history" is the first page of a filtered list.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import zoneinfo
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from django.db import connection, reset_queries  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.channels.models import Channel  # noqa: E402
from apps.conversations.models import Conversation  # noqa: E402
from apps.messaging.models import Message  # noqa: E402
from apps.reports import selectors  # noqa: E402
from apps.reports.history import history_filter_parse, history_page  # noqa: E402
from apps.reports.models import ReportRow  # noqa: E402
from apps.search.models import SearchTerm  # noqa: E402
from apps.search.selectors import get_backend  # noqa: E402
from apps.tenants.models import Tenant  # noqa: E402


def measure(label, fn, runs):
    t = time.perf_counter()
    fn()
    cold = (time.perf_counter() - t) * 1000
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    print(f"| {label} | {cold:.0f} | {statistics.median(samples):.0f} | {max(samples):.0f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--slug", default="bench-reports")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tenant = Tenant.objects.get(slug=args.slug)
    tz = zoneinfo.ZoneInfo(tenant.timezone)
    admin = User.objects.get(username=f"{args.slug}-admin")
    sup = User.objects.filter(tenant=tenant, role="supervisor").order_by("id").first()
    print(
        f"{connection.vendor}: {Conversation.objects.filter(tenant=tenant).count()} conversations, "
        f"{Message.objects.filter(tenant=tenant).count()} messages, {ReportRow.objects.filter(tenant=tenant).count()} rollup rows, "
        f"{SearchTerm.objects.filter(tenant=tenant).count()} search rows"
    )
    # As the beat would have: the stored rows hold everything up to now, the cursors exist.
    from apps.reports.rollups import rollup_refresh

    rollup_refresh()
    today = timezone.now().astimezone(tz).date()
    year = {"date_from": (today.replace(year=today.year - 1)).isoformat(), "date_to": today.isoformat(), "grain": "d"}
    week_h = {"date_from": None, "date_to": None, "grain": "h"}

    def report(actor, span, dimension="agent"):
        def run():
            # A new range per run, as per request: the hours the stored rows do not hold yet (the
            # current hour at least) are computed from the raw rows each time.
            rng = selectors.parse_range(tz=tz, **span)
            selectors.report_table(actor=actor, dimension=dimension, rng=rng)
            selectors.report_series(actor=actor, rng=rng)
            selectors.kpi_table(actor=actor, rng=rng)

        return run

    channel = Channel.objects.filter(tenant=tenant, name="微信").first()
    month_from = today.toordinal() - 30
    from datetime import date

    d_from = date.fromordinal(month_from).isoformat()

    def history(actor, **filters):
        f = history_filter_parse({"date_from": d_from, "date_to": today.isoformat(), **filters})
        return lambda: history_page(actor=actor, f=f, tz=tz, page=1)

    print("| measurement | cold ms | median ms | max ms |")
    print("|---|---:|---:|---:|")
    measure("report, 1 year by day, per agent (super admin)", report(admin, year), args.runs)
    measure("report, 1 year by day, per branch (super admin)", report(admin, year, "branch"), args.runs)
    measure("report, 1 year by day, per agent (supervisor, 1/4 subtree)", report(sup, year), args.runs)
    measure("report, 7 days by hour, per channel", report(admin, week_h, "channel"), args.runs)
    measure("history page, 30 days, no filter", history(admin), args.runs)
    measure(
        "history page, 30 days, channel + dissatisfied",
        history(admin, channel=channel.pk, satisfaction="dissatisfied"),
        args.runs,
    )
    measure("history page, 30 days, customer nickname", history(admin, customer="客户12"), args.runs)
    measure("history page, supervisor subtree, 30 days", history(sup), args.runs)
    backend = get_backend().name
    # A real order number from a conversation of the last 30 days (a rare term: one conversation).
    recent_ids = Conversation.objects.filter(tenant=tenant, created_at__gte=timezone.now() - timedelta(days=20))
    recent = (
        Message.objects.filter(
            conversation__in=list(recent_ids.order_by("-created_at").values_list("pk", flat=True)[:200]),
            body__startswith="订单号",
        )
        .values_list("body", flat=True)
        .first()
    )
    order_no = recent.split()[1] if recent else "123456"
    texts = [
        ("30 days", "退款", {}),
        ("30 days", "申请退款", {}),
        ("30 days", "refund", {}),
        ("30 days", "where parcel", {}),
        ("30 days", order_no, {}),
        ("30 days", "没有这句话", {}),
        ("30 days", "谢", {}),
        ("30 days, supervisor subtree", "退款", {"actor": sup}),
        ("30 days, channel + dissatisfied", "退款", {"channel": channel.pk, "satisfaction": "dissatisfied"}),
        ("1 year", "发票", {"date_from": year.start.astimezone(tz).date().isoformat()}),
        ("1 year", "申请退款", {"date_from": year.start.astimezone(tz).date().isoformat()}),
    ]
    for label, text, extra in texts:
        actor = extra.pop("actor", admin)
        measure(f"history page, {label}, full text '{text}' ({backend})", history(actor, text=text, **extra), args.runs)
    reset_queries()


if __name__ == "__main__":
    main()
