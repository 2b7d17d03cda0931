#!/usr/bin/env python
"""IM load test: N visitor+agent conversation pairs over real websockets against a running server.

Every visitor sends one message every --interval seconds (randomly phased); the agent of its
conversation must receive each exactly once, in seq order. Reports visitor->agent delivery
latency (p50/p95/p99/max), persisted messages/s (acks), lost / duplicated / out-of-order counts.

    python bench/im_load.py --data var/bench/im.json --url ws://127.0.0.1:8100 \
        --conversations 200 --interval 5 --duration 60 --procs 2

Prepare the data with `manage.py im_bench_prepare` (see bench/README.md). Several --url values
spread the connections over several daphne processes. Standard library + `websockets` only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import sys
import time

from websockets.asyncio.client import connect

RUN_ID = f"{int(time.time()) % 10_000_000:x}"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


class Pair:
    def __init__(self, index, pair, agent, url, data):
        self.index = index
        self.conversation_id = pair["conversation_id"]
        self.token = pair["visitor_token"]
        self.session = agent["session"]
        self.url = url
        self.origin = data["origin"]
        self.cookie_name = data["session_cookie_name"]
        self.sent: dict[str, float] = {}
        self.acked: dict[str, int] = {}
        self.received: dict[str, int] = {}
        self.latencies: list[float] = []
        self.duplicates = 0
        self.out_of_order = 0
        self.errors: dict[str, int] = {}
        self.last_seq = 0
        self.ready = asyncio.Event()
        self.sem: asyncio.Semaphore | None = None  # handshakes in flight (see run_slice)
        self.go: asyncio.Event | None = None  # set when every pair is connected

    async def run_agent(self, stop: asyncio.Event):
        headers = {"Cookie": f"{self.cookie_name}={self.session}"}
        async with self.sem:
            ws = await connect(
                f"{self.url}/ws/agent/",
                additional_headers=headers,
                max_queue=None,
                open_timeout=120,
                ping_interval=None,
            )
            hello = json.loads(await ws.recv())
        async with ws:
            assert hello["type"] == "hello", hello
            convs = {c["id"]: c["last_seq"] for c in hello["conversations"]}
            assert self.conversation_id in convs, "conversation not assigned to this agent"
            self.last_seq = convs[self.conversation_id]
            self.ready.set()
            pinger = asyncio.create_task(_pinger(ws, stop))
            try:
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), 1.0)
                    except TimeoutError:
                        continue
                    now = time.perf_counter()
                    frame = json.loads(raw)
                    if frame["type"] != "message.created" or frame["conversation_id"] != self.conversation_id:
                        continue
                    message = frame["message"]
                    if message["seq"] <= self.last_seq:
                        self.out_of_order += 1
                    self.last_seq = max(self.last_seq, message["seq"])
                    cid = message["client_msg_id"]
                    if cid in self.received:
                        self.duplicates += 1
                        continue
                    self.received[cid] = message["seq"]
                    sent = self.sent.get(cid)
                    if sent is not None:
                        self.latencies.append(now - sent)
            finally:
                pinger.cancel()

    async def run_visitor(self, stop_sending: asyncio.Event, stop: asyncio.Event, interval: float):
        async with self.sem:
            ws = await connect(
                f"{self.url}/ws/visitor/?token={self.token}",
                origin=self.origin,
                max_queue=None,
                open_timeout=120,
                ping_interval=None,
            )
            hello = json.loads(await ws.recv())
        async with ws:
            assert hello["type"] == "hello", hello
            await ws.send(
                json.dumps(
                    {
                        "type": "subscribe",
                        "conversation_id": self.conversation_id,
                        "last_seq": hello["conversations"][0]["last_seq"] if hello["conversations"] else 0,
                    }
                )
            )
            reader = asyncio.create_task(self._visitor_reader(ws, stop))
            await self.go.wait()
            await asyncio.sleep(random.random() * interval)  # spread the senders evenly over an interval
            n = 0
            next_at = time.perf_counter()
            while not stop_sending.is_set():
                cid = f"{RUN_ID}-{self.index}-{n}"  # fresh per run: a reused id would be deduplicated
                n += 1
                self.sent[cid] = time.perf_counter()
                await ws.send(
                    json.dumps(
                        {
                            "type": "send",
                            "conversation_id": self.conversation_id,
                            "client_msg_id": cid,
                            "body": f"bench message {n} from visitor {self.index}",
                        }
                    )
                )
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    try:
                        await asyncio.wait_for(stop_sending.wait(), delay)
                    except TimeoutError:
                        pass
            await stop.wait()
            reader.cancel()

    async def _visitor_reader(self, ws, stop):
        last_ping = time.perf_counter()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                raw = None
            if time.perf_counter() - last_ping > 25 and not stop.is_set():
                last_ping = time.perf_counter()
                try:
                    await ws.send('{"type":"ping"}')
                except Exception:  # noqa: BLE001 - closing at the end of the run
                    return
            if raw is None:
                continue
            frame = json.loads(raw)
            if frame["type"] == "ack":
                self.acked[frame["client_msg_id"]] = frame["seq"]
            elif frame["type"] == "error":
                self.errors[frame["code"]] = self.errors.get(frame["code"], 0) + 1


async def _pinger(ws, stop):
    while not stop.is_set():
        await asyncio.sleep(25)
        await ws.send('{"type":"ping"}')


async def run_slice(args, pairs_slice, data) -> dict:
    pairs = [Pair(i, p, data["agents"][p["agent"]], args.url[i % len(args.url)], data) for i, p in pairs_slice]
    stop_sending, stop = asyncio.Event(), asyncio.Event()
    connect_sem = asyncio.Semaphore(args.connect_concurrency)
    t0 = time.perf_counter()

    go = asyncio.Event()
    tasks = []
    for pair in pairs:
        # Handshakes are limited in flight: daphne's listen backlog is small, and a burst of
        # thousands of SYNs stalls in the kernel's retransmission backoff.
        pair.sem, pair.go = connect_sem, go
        tasks.append(asyncio.create_task(pair.run_agent(stop)))
        tasks.append(asyncio.create_task(pair.run_visitor(stop_sending, stop, args.interval)))
    ready = asyncio.gather(*(p.ready.wait() for p in pairs))
    try:
        await asyncio.wait_for(ready, 600)
    except TimeoutError:
        broken = [repr(t.exception()) for t in tasks if t.done() and t.exception()][:3]
        raise RuntimeError(f"{sum(p.ready.is_set() for p in pairs)}/{len(pairs)} agents ready; {broken}")
    connected_in = time.perf_counter() - t0
    print(f"[{len(pairs)} pairs connected in {connected_in:.1f}s]", file=sys.stderr, flush=True)
    await asyncio.sleep(args.warmup)  # visitors' subscribe answers settle
    go.set()
    start = time.perf_counter()
    await asyncio.sleep(args.duration)
    stop_sending.set()
    print("[sending stopped, draining]", file=sys.stderr, flush=True)
    send_elapsed = time.perf_counter() - start
    # Wait until every acked message reached its agent, or --drain seconds at most: what is
    # still missing then is reported as lost.
    drain_until = time.perf_counter() + args.drain
    while time.perf_counter() < drain_until:
        if all(all(cid in p.received for cid in p.acked) and len(p.acked) == len(p.sent) for p in pairs):
            break
        await asyncio.sleep(0.5)
    drained_in = time.perf_counter() - start - send_elapsed
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    latencies, sent, acked, received, lost, dup, ooo, errors = [], 0, 0, 0, 0, 0, 0, {}
    for p in pairs:
        latencies += p.latencies
        sent += len(p.sent)
        acked += len(p.acked)
        received += len(p.received)
        lost += sum(1 for cid in p.acked if cid not in p.received)
        dup += p.duplicates
        ooo += p.out_of_order
        for k, v in p.errors.items():
            errors[k] = errors.get(k, 0) + v
    return {
        "latencies": latencies,
        "sent": sent,
        "acked": acked,
        "received": received,
        "lost": lost,
        "duplicated": dup,
        "out_of_order": ooo,
        "errors": errors,
        "failures": failures[:5],
        "failure_count": len(failures),
        "send_elapsed": send_elapsed,
        "drained_in": drained_in,
        "connected_in": connected_in,
    }


def _worker(args, pairs_slice, data, queue):
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints where a client process is
    try:
        queue.put(asyncio.run(run_slice(args, pairs_slice, data)))
    except BaseException as exc:  # noqa: BLE001
        queue.put({"fatal": repr(exc)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="var/bench/im.json")
    parser.add_argument("--url", action="append", help="ws://host:port of a daphne (repeat for several)")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between messages per visitor")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain", type=float, default=60.0, help="at most this long to wait for the last deliveries")
    parser.add_argument("--procs", type=int, default=1, help="client processes")
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    args.url = args.url or ["ws://127.0.0.1:8100"]
    with open(args.data) as fh:
        data = json.load(fh)
    pairs = list(enumerate(data["pairs"][: args.conversations]))
    if len(pairs) < args.conversations:
        sys.exit(f"only {len(pairs)} conversations in {args.data}")
    slices = [pairs[i :: args.procs] for i in range(args.procs)]
    queue = multiprocessing.get_context("spawn").Queue()
    procs = [multiprocessing.get_context("spawn").Process(target=_worker, args=(args, s, data, queue)) for s in slices]
    for p in procs:
        p.start()
    parts = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    fatal = [p["fatal"] for p in parts if "fatal" in p]
    if fatal:
        sys.exit(f"client process failed: {fatal}")
    lat = [x * 1000 for p in parts for x in p["latencies"]]
    acked = sum(p["acked"] for p in parts)
    elapsed = max(p["send_elapsed"] for p in parts)
    errors: dict[str, int] = {}
    for p in parts:
        for k, v in p["errors"].items():
            errors[k] = errors.get(k, 0) + v
    summary = {
        "conversations": args.conversations,
        "sockets": 2 * args.conversations,
        "interval_s": args.interval,
        "target_msgs_per_s": round(args.conversations / args.interval, 1),
        "duration_s": round(elapsed, 1),
        "drain_s": round(max(p["drained_in"] for p in parts), 1),
        "connect_s": round(max(p["connected_in"] for p in parts), 1),
        "sent": sum(p["sent"] for p in parts),
        "acked_persisted": acked,
        # acks that arrive during the drain still count, over the whole time they took
        "persisted_msgs_per_s": round(acked / (elapsed + max(p["drained_in"] for p in parts)), 1) if elapsed else 0,
        "delivered": sum(p["received"] for p in parts),
        "lost": sum(p["lost"] for p in parts),
        "duplicated": sum(p["duplicated"] for p in parts),
        "out_of_order": sum(p["out_of_order"] for p in parts),
        "errors": errors,
        "socket_failures": sum(p["failure_count"] for p in parts),
        "latency_ms": {
            "p50": round(percentile(lat, 50), 1),
            "p95": round(percentile(lat, 95), 1),
            "p99": round(percentile(lat, 99), 1),
            "max": round(max(lat), 1) if lat else None,
            "mean": round(statistics.fmean(lat), 1) if lat else None,
        },
    }
    failures = [f for p in parts for f in p["failures"]]
    if failures:
        summary["first_failures"] = failures[:3]
    print(json.dumps(summary, indent=None if args.json else 2))
    return summary


if __name__ == "__main__":
    main()
