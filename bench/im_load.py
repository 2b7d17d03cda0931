#!/usr/bin/env python
"""IM load test: N visitor+agent conversation pairs over real websockets against a running server.

Every visitor sends one message every --interval seconds (randomly phased), or, with
--closed-loop, its next message as soon as the previous one is acknowledged (saturation: the
offered load is whatever the server can take). The agent of its conversation must receive each
exactly once, in seq order. Reports visitor->agent delivery latency (p50/p95/p99/max), persisted
(acked) and delivered messages/s during the sending window, lost / duplicated / out-of-order
counts, the client's own CPU time, and with --bucket a per-bucket timeline (soak runs).

    python bench/im_load.py --data var/bench/im.json --url ws://127.0.0.1:8100 \
        --conversations 200 --interval 5 --duration 60 --procs 2

Prepare the data with `manage.py im_bench_prepare` (see bench/README.md). Several --url values
spread the connections over several server processes; the agent of a pair is connected to a
different process than its visitor (as behind a load balancer) unless --same-process.
`bench/im_bench.py` runs this tool for each goal of issue 16 and writes the table.
Standard library + `websockets` only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import time

from websockets.asyncio.client import connect

RUN_ID = f"{int(time.time() * 1000) % 10_000_000_000:x}"


def server_cpu(args) -> tuple[float, dict[str, float]]:
    """(monotonic time, CPU seconds per group) of the server processes named by --cpu."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for group, pids in args.cpu:
        total = 0.0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                total += sum(int(f) for f in fields[11:15]) / tick
            except FileNotFoundError:
                pass
        out[group] = total
    return time.monotonic(), out


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


class Pair:
    def __init__(self, index, pair, agent, visitor_url, agent_url, data, clock0):
        self.index = index
        self.conversation_id = pair["conversation_id"]
        self.token = pair["visitor_token"]
        self.session = agent["session"]
        self.visitor_url = visitor_url
        self.agent_url = agent_url
        self.origin = data["origin"]
        self.cookie_name = data["session_cookie_name"]
        self.clock0 = clock0
        self.sent: dict[str, float] = {}  # client_msg_id -> perf_counter at send
        self.acked: set[str] = set()
        self.ack_times: list[float] = []  # seconds since clock0
        self.received: set[str] = set()
        # (seconds since clock0 at receipt, latency in seconds) per first delivery
        self.deliveries: list[tuple[float, float]] = []
        self.duplicates = 0
        self.out_of_order = 0
        self.errors: dict[str, int] = {}
        self.last_seq = 0
        self.ready = asyncio.Event()
        self.visitor_ready = asyncio.Event()
        self.acked_event = asyncio.Event()  # closed loop: the outstanding message was acked
        self.sem: asyncio.Semaphore | None = None  # handshakes in flight (see run_slice)
        self.go: asyncio.Event | None = None  # set when every pair is connected

    async def run_agent(self, stop: asyncio.Event):
        headers = {"Cookie": f"{self.cookie_name}={self.session}"}
        async with self.sem:
            ws = await connect(
                f"{self.agent_url}/ws/agent/",
                additional_headers=headers,
                max_queue=None,
                open_timeout=300,
                ping_interval=None,
                compression=None,
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
                    now = time.monotonic()
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
                    self.received.add(cid)
                    sent = self.sent.get(cid)
                    if sent is not None:
                        self.deliveries.append((now - self.clock0, now - sent))
            finally:
                pinger.cancel()

    async def run_visitor(self, stop_sending: asyncio.Event, stop: asyncio.Event, args):
        async with self.sem:
            ws = await connect(
                f"{self.visitor_url}/ws/visitor/?token={self.token}",
                origin=self.origin,
                max_queue=None,
                open_timeout=300,
                ping_interval=None,
                compression=None,
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
            self.visitor_ready.set()
            reader = asyncio.create_task(self._visitor_reader(ws, stop))
            await self.go.wait()
            if args.closed_loop:
                await self._send_closed_loop(ws, stop_sending)
            else:
                await self._send_paced(ws, stop_sending, args.interval)
            await stop.wait()
            reader.cancel()

    def _frame(self, n: int) -> tuple[str, str]:
        cid = f"{RUN_ID}-{self.index}-{n}"  # fresh per run: a reused id would be deduplicated
        frame = {
            "type": "send",
            "conversation_id": self.conversation_id,
            "client_msg_id": cid,
            "body": f"bench message {n} from visitor {self.index}",
        }
        return cid, json.dumps(frame)

    async def _send_paced(self, ws, stop_sending, interval):
        await asyncio.sleep(random.random() * interval)  # spread the senders evenly over an interval
        n = 0
        next_at = time.monotonic()
        while not stop_sending.is_set():
            cid, text = self._frame(n)
            n += 1
            self.sent[cid] = time.monotonic()
            await ws.send(text)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop_sending.wait(), delay)
                except TimeoutError:
                    pass

    async def _send_closed_loop(self, ws, stop_sending):
        await asyncio.sleep(random.random() * 0.5)
        n = 0
        while not stop_sending.is_set():
            cid, text = self._frame(n)
            n += 1
            self.acked_event.clear()
            self.sent[cid] = time.monotonic()
            await ws.send(text)
            while cid not in self.acked and not stop_sending.is_set():
                try:
                    await asyncio.wait_for(self.acked_event.wait(), 1.0)
                except TimeoutError:
                    pass
                self.acked_event.clear()

    async def _visitor_reader(self, ws, stop):
        last_ping = time.monotonic()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                raw = None
            if time.monotonic() - last_ping > 25 and not stop.is_set():
                last_ping = time.monotonic()
                try:
                    await ws.send('{"type":"ping"}')
                except Exception:  # noqa: BLE001 - closing at the end of the run
                    return
            if raw is None:
                continue
            frame = json.loads(raw)
            if frame["type"] == "ack":
                cid = frame["client_msg_id"]
                if cid not in self.acked:
                    self.acked.add(cid)
                    self.ack_times.append(time.monotonic() - self.clock0)
                self.acked_event.set()
            elif frame["type"] == "error":
                self.errors[frame["code"]] = self.errors.get(frame["code"], 0) + 1
                self.acked_event.set()


async def _pinger(ws, stop):
    while not stop.is_set():
        await asyncio.sleep(25)
        await ws.send('{"type":"ping"}')


def _placement(args, i: int) -> tuple[str, str]:
    n = len(args.url)
    visitor = args.url[i % n]
    agent = visitor if args.same_process else args.url[(i + 1) % n]
    return visitor, agent


async def run_slice(args, pairs_slice, data, start_at: float, clock0: float) -> dict:
    pairs = [Pair(i, p, data["agents"][p["agent"]], *_placement(args, i), data, clock0) for i, p in pairs_slice]
    stop_sending, stop = asyncio.Event(), asyncio.Event()
    connect_sem = asyncio.Semaphore(args.connect_concurrency)
    cpu0 = time.process_time()
    # All client processes start connecting at the same wall-clock instant (a storm).
    await asyncio.sleep(max(0.0, start_at - time.time()))
    t0 = time.monotonic()

    go = asyncio.Event()
    tasks = []
    for pair in pairs:
        # Handshakes are limited in flight: a burst of thousands of SYNs beyond the listen
        # backlog stalls in the kernel's retransmission backoff.
        pair.sem, pair.go = connect_sem, go
        tasks.append(asyncio.create_task(pair.run_agent(stop)))
        tasks.append(asyncio.create_task(pair.run_visitor(stop_sending, stop, args)))
    ready = asyncio.gather(*(p.ready.wait() for p in pairs), *(p.visitor_ready.wait() for p in pairs))
    try:
        await asyncio.wait_for(ready, 900)
    except TimeoutError:
        broken = [repr(t.exception()) for t in tasks if t.done() and t.exception()][:3]
        raise RuntimeError(f"{sum(p.ready.is_set() for p in pairs)}/{len(pairs)} agents ready; {broken}")
    connected_in = time.monotonic() - t0
    print(f"[{2 * len(pairs)} sockets connected in {connected_in:.1f}s]", file=sys.stderr, flush=True)
    if args.connect_only:
        stop_sending.set()
        stop.set()
        go.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return {"connected_in": connected_in, "sockets": 2 * len(pairs), "cpu_s": time.process_time() - cpu0}
    await asyncio.sleep(args.warmup)  # visitors' subscribe answers settle
    cpu_send0 = time.process_time()
    server_cpu0 = server_cpu(args)
    go.set()
    start = time.monotonic() - clock0
    await asyncio.sleep(args.duration)
    stop_sending.set()
    send_end = time.monotonic() - clock0
    print("[sending stopped, draining]", file=sys.stderr, flush=True)
    # Wait until every acked message reached its agent, or --drain seconds at most: what is
    # still missing then is reported as lost.
    drain_until = time.monotonic() + args.drain
    while time.monotonic() < drain_until:
        if all(p.acked <= p.received and len(p.acked) + sum(p.errors.values()) >= len(p.sent) for p in pairs):
            break
        await asyncio.sleep(0.2)
    drained_in = time.monotonic() - clock0 - send_end
    server_cpu1 = server_cpu(args)
    cpu_s = time.process_time() - cpu_send0
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [repr(r) for r in results if isinstance(r, BaseException)]
    out = {
        "start": start,
        "send_end": send_end,
        "drained_in": drained_in,
        "connected_in": connected_in,
        "cpu_s": cpu_s,
        "server_cpu": [server_cpu0, server_cpu1],
        "deliveries": [d for p in pairs for d in p.deliveries],
        "ack_times": [t for p in pairs for t in p.ack_times],
        "sent": sum(len(p.sent) for p in pairs),
        "acked": sum(len(p.acked) for p in pairs),
        "received": sum(len(p.received) for p in pairs),
        "lost": sum(len(p.acked - p.received) for p in pairs),
        "unacked": sum(len(set(p.sent) - p.acked) for p in pairs),
        "duplicated": sum(p.duplicates for p in pairs),
        "out_of_order": sum(p.out_of_order for p in pairs),
        "errors": {},
        "failures": failures[:5],
        "failure_count": len(failures),
    }
    for p in pairs:
        for k, v in p.errors.items():
            out["errors"][k] = out["errors"].get(k, 0) + v
    return out


def _worker(args, pairs_slice, data, start_at, clock0, queue):
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints where a client process is
    try:
        queue.put(asyncio.run(run_slice(args, pairs_slice, data, start_at, clock0)))
    except BaseException as exc:  # noqa: BLE001
        queue.put({"fatal": repr(exc)})


def _latency_summary(latencies_ms: list[float]) -> dict:
    return {
        "p50": round(percentile(latencies_ms, 50), 1),
        "p95": round(percentile(latencies_ms, 95), 1),
        "p99": round(percentile(latencies_ms, 99), 1),
        "max": round(max(latencies_ms), 1) if latencies_ms else None,
        "mean": round(statistics.fmean(latencies_ms), 1) if latencies_ms else None,
    }


def summarise(args, parts: list[dict]) -> dict:
    if args.connect_only:
        return {
            "sockets": sum(p["sockets"] for p in parts),
            "connect_s": round(max(p["connected_in"] for p in parts), 2),
            "client_cpu_s": round(sum(p["cpu_s"] for p in parts), 1),
        }
    # Every client process measures from the same clock0; the window is the part where all
    # of them were sending.
    start = max(p["start"] for p in parts)
    send_end = min(p["send_end"] for p in parts)
    measure_from = start + min(args.measure_after, max(0.0, (send_end - start) / 4))
    window = max(1e-9, send_end - measure_from)
    deliveries = [d for p in parts for d in p["deliveries"]]
    ack_times = [t for p in parts for t in p["ack_times"]]
    lat = [lat_s * 1000 for _t, lat_s in deliveries]
    acked = sum(p["acked"] for p in parts)
    errors: dict[str, int] = {}
    for p in parts:
        for k, v in p["errors"].items():
            errors[k] = errors.get(k, 0) + v
    summary = {
        "conversations": args.conversations,
        "sockets": 2 * args.conversations,
        "mode": "closed-loop" if args.closed_loop else f"1 msg / {args.interval:g} s per conversation",
        "offered_msgs_per_s": None if args.closed_loop else round(args.conversations / args.interval, 1),
        "duration_s": round(send_end - start, 1),
        "drain_s": round(max(p["drained_in"] for p in parts), 1),
        "connect_s": round(max(p["connected_in"] for p in parts), 1),
        "sent": sum(p["sent"] for p in parts),
        "acked_persisted": acked,
        "delivered": sum(p["received"] for p in parts),
        # rates inside the sending window, after --measure-after seconds of ramp-up
        "persisted_msgs_per_s": round(sum(1 for t in ack_times if measure_from <= t < send_end) / window, 1),
        "delivered_msgs_per_s": round(sum(1 for t, _ in deliveries if measure_from <= t < send_end) / window, 1),
        # over the whole run, drain included (what the server sustained in the end)
        "persisted_overall_msgs_per_s": round(acked / (send_end - start + max(p["drained_in"] for p in parts)), 1),
        "lost": sum(p["lost"] for p in parts),
        "unacked": sum(p["unacked"] for p in parts),
        "duplicated": sum(p["duplicated"] for p in parts),
        "out_of_order": sum(p["out_of_order"] for p in parts),
        "errors": errors,
        "socket_failures": sum(p["failure_count"] for p in parts),
        "client_cpu_s": round(sum(p["cpu_s"] for p in parts), 1),
        "client_cpu_ms_per_msg": round(1000 * sum(p["cpu_s"] for p in parts) / max(1, acked), 2),
        "latency_ms": _latency_summary(lat),
    }
    if args.cpu:
        # from the first process's start of sending to the last one's end of drain
        t0, cpu0 = min((p["server_cpu"][0] for p in parts), key=lambda x: x[0])
        t1, cpu1 = max((p["server_cpu"][1] for p in parts), key=lambda x: x[0])
        summary["cpu_ms_per_msg"] = {g: round(1000 * (cpu1[g] - cpu0[g]) / max(1, acked), 3) for g in cpu0}
        summary["cpu_cores_used"] = {g: round((cpu1[g] - cpu0[g]) / max(1e-9, t1 - t0), 2) for g in cpu0}
    if args.bucket:
        timeline = []
        t = start
        while t < send_end:
            in_bucket = [lat_s * 1000 for tr, lat_s in deliveries if t <= tr < t + args.bucket]
            timeline.append(
                {
                    "t_s": round(t - start),
                    "delivered_msgs_per_s": round(len(in_bucket) / args.bucket, 1),
                    "p50_ms": round(percentile(in_bucket, 50), 1),
                    "p99_ms": round(percentile(in_bucket, 99), 1),
                }
            )
            t += args.bucket
        summary["timeline"] = timeline
    failures = [f for p in parts for f in p["failures"]]
    if failures:
        summary["first_failures"] = failures[:3]
    return summary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="var/bench/im.json")
    parser.add_argument("--url", action="append", help="ws://host:port of a server process (repeat for several)")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between messages per visitor")
    parser.add_argument("--closed-loop", action="store_true", help="send the next message when the last is acked")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--measure-after", type=float, default=5.0, help="rates ignore the first seconds of sending")
    parser.add_argument("--drain", type=float, default=60.0, help="at most this long to wait for the last deliveries")
    parser.add_argument("--procs", type=int, default=1, help="client processes")
    parser.add_argument("--connect-concurrency", type=int, default=50, help="handshakes in flight per client process")
    parser.add_argument("--connect-only", action="store_true", help="open every socket, report the time, close")
    parser.add_argument("--same-process", action="store_true", help="agent and visitor on the same --url")
    parser.add_argument("--bucket", type=float, default=0, help="timeline of delivery rate and latency per N s")
    parser.add_argument(
        "--cpu", action="append", default=[], help="name=pid,pid: CPU per message of these server processes"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    args.cpu = [(g, [int(p) for p in pids.split(",") if p]) for g, pids in (c.split("=", 1) for c in args.cpu)]
    args.url = args.url or ["ws://127.0.0.1:8100"]
    return args


def main(argv=None):
    args = parse_args(argv)
    with open(args.data) as fh:
        data = json.load(fh)
    pairs = list(enumerate(data["pairs"][: args.conversations]))
    if len(pairs) < args.conversations:
        sys.exit(f"only {len(pairs)} conversations in {args.data}")
    slices = [pairs[i :: args.procs] for i in range(args.procs)]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 1.0 + 0.3 * args.procs  # after every client process has imported
    clock0 = time.monotonic()  # CLOCK_MONOTONIC is system-wide: every client process shares it
    procs = [ctx.Process(target=_worker, args=(args, s, data, start_at, clock0, queue)) for s in slices]
    for p in procs:
        p.start()
    parts = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    fatal = [p["fatal"] for p in parts if "fatal" in p]
    if fatal:
        sys.exit(f"client process failed: {fatal}")
    summary = summarise(args, parts)
    print(json.dumps(summary, indent=None if args.json else 2))
    return summary


if __name__ == "__main__":
    main()
