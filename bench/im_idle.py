#!/usr/bin/env python
"""Idle websockets: open N visitor connections, keep them alive with pings, and report the
resident memory (RSS) of the server processes before and after, per connection.

    python bench/im_idle.py --data var/bench/im.json --url ws://127.0.0.1:8100 --url ws://127.0.0.1:8101 \
        --sockets 5000 --pids "$(cat /tmp/imbench/daphne-*.pid | paste -sd,)" --hold 30 --procs 2

Uses the visitor tokens of `manage.py im_bench_prepare` (pairs first, then --visitors-only ones;
a token may open several sockets, like several tabs). Standard library + `websockets` only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time

from websockets.asyncio.client import connect


def rss_kib(pid: int) -> int:
    """RSS of a process and all its descendants, in KiB (from /proc)."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{p}/task/{p}/children") as fh:
                pids += [int(c) for c in fh.read().split()]
        except FileNotFoundError:
            pass
    return total


async def hold_sockets(urls, tokens, origin, hold, concurrency, opened_q=None):
    sockets = []
    failures = 0
    sem = asyncio.Semaphore(concurrency)

    async def open_one(i, token):
        nonlocal failures
        async with sem:
            try:
                ws = await connect(
                    f"{urls[i % len(urls)]}/ws/visitor/?token={token}",
                    origin=origin,
                    open_timeout=120,
                    ping_interval=None,
                    max_queue=16,
                )
                hello = json.loads(await ws.recv())
                assert hello["type"] == "hello"
                sockets.append(ws)
            except Exception:  # noqa: BLE001 - counted and reported
                failures += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(open_one(i, t) for i, t in enumerate(tokens)))
    opened_in = time.perf_counter() - t0
    if opened_q is not None:
        opened_q.put(("opened", len(sockets), failures, opened_in))

    async def keepalive():
        while True:
            await asyncio.sleep(25)
            for ws in list(sockets):
                try:
                    await ws.send('{"type":"ping"}')
                except Exception:  # noqa: BLE001
                    pass

    async def discard_incoming(ws):
        try:
            async for _ in ws:
                pass
        except Exception:  # noqa: BLE001
            pass

    readers = [asyncio.create_task(discard_incoming(ws)) for ws in sockets]
    pinger = asyncio.create_task(keepalive())
    await asyncio.sleep(hold)
    pinger.cancel()
    alive = sum(1 for ws in sockets if ws.state.name == "OPEN")
    for ws in sockets:
        await ws.close()
    for r in readers:
        r.cancel()
    return len(sockets), failures, opened_in, alive


def _worker(urls, tokens, origin, hold, concurrency, q):
    try:
        opened, failures, opened_in, alive = asyncio.run(hold_sockets(urls, tokens, origin, hold, concurrency, q))
        q.put(("done", opened, failures, opened_in, alive))
    except BaseException as exc:  # noqa: BLE001
        q.put(("fatal", repr(exc)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="var/bench/im.json")
    parser.add_argument("--url", action="append")
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--pids", required=True, help="comma-separated server pids (daphne processes)")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds to keep the sockets open after opening")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight per client process")
    args = parser.parse_args(argv)
    urls = args.url or ["ws://127.0.0.1:8100"]
    pids = [int(p) for p in args.pids.split(",") if p.strip()]
    with open(args.data) as fh:
        data = json.load(fh)
    pool = [p["visitor_token"] for p in data["pairs"]] + data.get("idle_visitor_tokens", [])
    tokens = [pool[i % len(pool)] for i in range(args.sockets)]
    before = sum(rss_kib(p) for p in pids)
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    slices = [tokens[i :: args.procs] for i in range(args.procs)]
    procs = [
        ctx.Process(target=_worker, args=(urls, s, data["origin"], args.hold, args.concurrency, q)) for s in slices
    ]
    for p in procs:
        p.start()
    opened = failures = 0
    opened_in = 0.0
    for _ in procs:
        msg = q.get()
        if msg[0] == "fatal":
            sys.exit(f"client failed: {msg[1]}")
        opened += msg[1]
        failures += msg[2]
        opened_in = max(opened_in, msg[3])
    time.sleep(min(5.0, args.hold / 2))  # let the servers settle
    during = sum(rss_kib(p) for p in pids)
    per_process = {p: rss_kib(p) for p in pids}
    alive = 0
    for _ in procs:
        msg = q.get()
        if msg[0] == "fatal":
            sys.exit(f"client failed: {msg[1]}")
        alive += msg[4]
    for p in procs:
        p.join()
    summary = {
        "sockets_requested": args.sockets,
        "opened": opened,
        "failed": failures,
        "still_open_at_end": alive,
        "open_s": round(opened_in, 1),
        "server_processes": len(pids),
        "rss_before_mib": round(before / 1024, 1),
        "rss_with_sockets_mib": round(during / 1024, 1),
        "rss_per_process_mib": {str(k): round(v / 1024, 1) for k, v in per_process.items()},
        "kib_per_socket": round((during - before) / opened, 1) if opened else None,
    }
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
