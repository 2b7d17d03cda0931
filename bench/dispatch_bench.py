"""Dispatch benchmark: bursts of visitors arriving against N online agents on MariaDB.

Reports assignments per second and the time from arrival (conversation_start called) to
assignment (the assigned_at stamped under the agent's row lock), p50/p99, while agents have
capacity. Several OS processes start conversations at once, as several daphne workers would.

    DATABASE_URL=mysql://root@127.0.0.1:3306/kefu_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/dispatch_bench.py --agents 50 --cap 5 --burst 200 --bursts 3 --procs 4

It creates (or reuses) the database named in DATABASE_URL, migrates it, and works in a fresh
tenant every run. Queue-position broadcasts are handed to Celery as in production (a worker is
started for the duration unless --no-worker).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("REDIS_PREFIX", "kefu-bench")


def _setup() -> None:
    import django

    django.setup()


def _arrive(job):
    channel_id, customer_ids, at, spread = job
    _setup()
    from django.db import connection

    from apps.channels.models import Channel
    from apps.conversations.services import conversation_start
    from apps.customers.models import Customer

    channel = Channel.objects.get(pk=channel_id)
    customers = {c.pk: c for c in Customer.objects.filter(pk__in=customer_ids)}
    out = []
    step = spread / max(len(customer_ids), 1)
    while time.time() < at:
        time.sleep(0.0005)
    for i, customer_id in enumerate(customer_ids):
        delay = at + i * step - time.time()
        if delay > 0:
            time.sleep(delay)
        t0 = time.time()
        conversation = conversation_start(channel=channel, customer=customers[customer_id])
        out.append((conversation.pk, t0, time.time()))
    connection.close()
    return out


def _pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--cap", type=int, default=5)
    parser.add_argument("--burst", type=int, default=200, help="visitors per burst")
    parser.add_argument("--spread", type=float, default=1.0, help="seconds over which a burst arrives")
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--no-worker", action="store_true")
    args = parser.parse_args()

    _setup()
    from django.core.management import call_command
    from django.db import connection

    from apps.accounts import services as account_services
    from apps.accounts.models import AgentStatus, Role
    from apps.channels.models import Channel
    from apps.conversations.models import Conversation
    from apps.conversations.services import conversation_close
    from apps.customers.models import Customer
    from apps.tenants.models import Tenant
    from config.topology import CELERY_QUEUE_NAMES

    if connection.vendor != "mysql":
        sys.exit("set DATABASE_URL to a MariaDB/MySQL database: this benchmark is about row locks between processes")
    call_command("migrate", verbosity=0)
    worker = None
    if not args.no_worker:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "celery_worker",
                "worker",
                "-c",
                "1",
                "-l",
                "warning",
                "-Q",
                ",".join(CELERY_QUEUE_NAMES),
            ],
            cwd=ROOT,
            env=os.environ.copy(),
        )
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    tenant = Tenant.objects.create(name=slug, slug=slug)
    hq = account_services.branch_create(tenant=tenant, name="HQ")
    channel = Channel.objects.create(tenant=tenant, name="web", branch=hq)
    agents = []
    for i in range(args.agents):
        agent = account_services.user_create(
            tenant=tenant,
            username=f"{slug}-a{i}",
            password="bench-pass-2026!",
            role=Role.AGENT,
            branch=hq,
            max_chats_cap=args.cap,
            actor=None,
        )
        account_services.agent_set_status(agent=agent, status=AgentStatus.ONLINE)
        agents.append(agent)
    seats = args.agents * args.cap
    print(
        f"tenant {slug}: {args.agents} agents x cap {args.cap} = {seats} seats; bursts of {args.burst} "
        f"over {args.spread}s from {args.procs} processes",
        flush=True,
    )

    ctx = multiprocessing.get_context("spawn")
    latencies, calls, rates = [], [], []
    try:
        with ctx.Pool(args.procs) as pool:
            for b in range(args.bursts):
                ids = [Customer.objects.create(tenant=tenant, display_name=f"b{b}v{i}").pk for i in range(args.burst)]
                at = time.time() + 1.0
                results = pool.map(
                    _arrive, [(channel.pk, ids[i :: args.procs], at, args.spread) for i in range(args.procs)]
                )
                arrivals = {pk: (t0, t1) for rows in results for pk, t0, t1 in rows}
                assigned = Conversation.objects.filter(pk__in=arrivals, status="active").values_list(
                    "pk", "assigned_at"
                )
                lat = [(a.timestamp() - arrivals[pk][0]) * 1000 for pk, a in assigned]
                first = min(t0 for t0, _ in arrivals.values())
                last_assign = max(a.timestamp() for _pk, a in assigned) if lat else first
                rate = len(lat) / max(last_assign - first, 1e-6)
                latencies += lat
                calls += [(t1 - t0) * 1000 for t0, t1 in arrivals.values()]
                rates.append(rate)
                print(
                    f"burst {b}: {len(arrivals)} arrivals, {len(lat)} assigned at {rate:.0f} assignments/s, "
                    f"arrival->assigned p50 {_pct(lat, 50):.1f} ms p99 {_pct(lat, 99):.1f} ms max {max(lat):.1f} ms",
                    flush=True,
                )
                for pk in (
                    Conversation.objects.filter(tenant=tenant).exclude(status="closed").values_list("pk", flat=True)
                ):
                    conversation_close(conversation_id=pk, reason="bench")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(10)
    print(
        f"ALL: {len(latencies)} assignments, mean rate {statistics.mean(rates):.0f} assignments/s, "
        f"arrival->assigned p50 {_pct(latencies, 50):.1f} ms, p99 {_pct(latencies, 99):.1f} ms; "
        f"conversation_start call p50 {_pct(calls, 50):.1f} ms p99 {_pct(calls, 99):.1f} ms"
    )


if __name__ == "__main__":
    main()
