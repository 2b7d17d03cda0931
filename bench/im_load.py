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

The clients behave like the real ones when something fails (bench/faults.py kills servers under
this load): a socket that drops reconnects with backoff; an agent resumes its conversation from the
last seq it saw (the server replays the gap) and, until the resume is answered, orders what arrives
by seq as the workbench does, dropping a message it already has (same client_msg_id, same seq:
`repeats`); a visitor sends again, with the same client_msg_id, every message not yet acked (after a
reconnect, after a retryable `unavailable` error once the delay it names has passed, or when no ack
came for --ack-timeout seconds, doubled at each attempt up to 4x so a slow server is not flooded), so
a message is written once however often it is sent. `duplicated` counts a client_msg_id that
arrives under a second seq (written twice); `out_of_order` a message below the highest seq already
seen; `lost` an acked message that never reached its agent; `unacked` one never acked. With --marks
(a file of {"t": wall clock, "event": ...} lines written during the run) the summary says, for each
mark, how long until every conversation delivered again; `agent` / `visitor` say what each side saw
(sockets dropped, time to reconnect, error codes). --push-data adds visitors whose agent stays
offline (their messages go to the tenant's push webhook: bench/faults.py checks them).
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
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

RUN_ID = f"{int(time.time() * 1000) % 10_000_000_000:x}"
# A refused handshake (an HTTP 500 or 502 instead of the upgrade) is retried like a refused TCP
# connection: the clients keep trying until the server can take them again.
CONNECT_ERRORS = (OSError, ConnectionClosed, InvalidHandshake, TimeoutError, asyncio.TimeoutError)


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


class Side:
    """What one end (agent or visitor) of a pair lived through: drops, reconnects, errors."""

    def __init__(self):
        self.disconnects = 0
        self.reconnect_s: list[float] = []  # from the drop to the next hello
        self.connect_failures = 0
        self.errors: Counter = Counter()
        self.down_since: float | None = None

    def dropped(self) -> None:
        self.disconnects += 1
        if self.down_since is None:
            self.down_since = time.monotonic()

    def back(self) -> None:
        if self.down_since is not None:
            self.reconnect_s.append(time.monotonic() - self.down_since)
            self.down_since = None

    def as_dict(self) -> dict:
        return {
            "disconnects": self.disconnects,
            "reconnect_s": self.reconnect_s,
            "connect_failures": self.connect_failures,
            "errors": dict(self.errors),
            "still_down": self.down_since is not None,
        }


class Pair:
    def __init__(self, index, pair, agent, visitor_url, agent_url, data, clock0, args):
        self.index = index
        self.conversation_id = pair["conversation_id"]
        self.token = pair["visitor_token"]
        self.session = agent["session"] if agent else None  # None: the agent stays offline
        self.visitor_url = visitor_url
        self.agent_url = agent_url
        self.origin = data["origin"]
        self.cookie_name = data["session_cookie_name"]
        self.clock0 = clock0
        self.args = args
        self.sent: dict[str, float] = {}  # client_msg_id -> monotonic time of the first send
        self.frames: dict[str, str] = {}  # client_msg_id -> frame, until acked
        self.due: dict[str, float] = {}  # client_msg_id -> monotonic time to (re)send it; 0.0: now
        self.attempts: Counter = Counter()
        self.acked: dict[str, int] = {}  # client_msg_id -> seq
        self.ack_times: list[float] = []  # seconds since clock0
        self.dup_acks = 0
        self.resends = 0
        self.received: dict[str, int] = {}  # client_msg_id -> seq, at the agent
        # (seconds since clock0 at receipt, latency in seconds) per first delivery
        self.deliveries: list[tuple[float, float]] = []
        self.duplicates = 0
        self.resyncs: Counter = Counter()  # resync frames by reason
        self.repeats = 0
        self.out_of_order = 0
        self.last_seq = 0
        self.agent = Side()
        self.visitor = Side()
        self.ready = asyncio.Event()
        self.visitor_ready = asyncio.Event()
        self.acked_event = asyncio.Event()  # closed loop: the outstanding message was acked
        self.wake = asyncio.Event()  # something to (re)send
        self.sem: asyncio.Semaphore | None = None  # handshakes in flight (see run_slice)
        self.go: asyncio.Event | None = None  # set when every pair is connected
        if self.session is None:
            self.ready.set()

    @property
    def errors(self) -> Counter:
        return self.visitor.errors + self.agent.errors

    # --- agent ---------------------------------------------------------------------------------
    async def run_agent(self, stop: asyncio.Event):
        first, backoff = True, 0.2
        while not stop.is_set():
            try:
                async with self.sem:
                    ws = await connect(
                        f"{self.agent_url}/ws/agent/",
                        additional_headers={"Cookie": f"{self.cookie_name}={self.session}"},
                        max_queue=None,
                        open_timeout=300 if first else 10,
                        ping_interval=None,
                        compression=None,
                    )
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
            except CONNECT_ERRORS:
                if first and not self.args.retry_first_connect:
                    raise
                self.agent.connect_failures += 1
                await _sleep(stop, backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, 3.0)
                continue
            backoff = 0.2
            try:
                if hello.get("type") != "hello":
                    raise ConnectionError(f"no hello: {hello}")
                if first:
                    convs = {c["id"]: c["last_seq"] for c in hello["conversations"]}
                    assert self.conversation_id in convs, "conversation not assigned to this agent"
                    self.last_seq = convs[self.conversation_id]
                    first = False
                    self.ready.set()
                    await self._agent_read(ws, stop, resuming=False)
                else:
                    self.agent.back()
                    resume = {"type": "resume", "conversation_id": self.conversation_id, "last_seq": self.last_seq}
                    await ws.send(json.dumps(resume))
                    await self._agent_read(ws, stop, resuming=True)
            except (ConnectionClosed, ConnectionError, OSError):
                pass
            finally:
                await _close(ws)
            if not stop.is_set():
                self.agent.dropped()
                await _sleep(stop, 0.1 + random.random() * 0.4)

    async def _agent_read(self, ws, stop, *, resuming: bool):
        pinger = asyncio.create_task(_pinger(ws, stop))
        held: list[tuple[dict, float]] = []  # while resuming: ordered by seq once the resume is answered
        try:
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                now = time.monotonic()
                frame = json.loads(raw)
                ftype = frame["type"]
                if ftype == "error":
                    self.agent.errors[frame.get("code")] += 1
                elif frame.get("conversation_id") != self.conversation_id:
                    continue
                elif ftype == "resync":
                    # ahead_of_server: the database ends below what this agent saw (a restore);
                    # what it holds above last_seq is gone and those seqs will be used again.
                    self.resyncs[frame.get("reason")] += 1
                    self.last_seq = frame["last_seq"]
                elif ftype == "subscribed" and resuming:
                    resuming = False
                    for message, at in sorted(held, key=lambda h: h[0]["seq"]):
                        self._deliver(message, at)
                    held = []
                elif ftype == "message.created":
                    if resuming:
                        held.append((frame["message"], now))
                    else:
                        self._deliver(frame["message"], now)
        finally:
            pinger.cancel()

    def _deliver(self, message: dict, now: float) -> None:
        cid, seq = message["client_msg_id"], message["seq"]
        if cid is None:  # not one of ours (a system line)
            self.last_seq = max(self.last_seq, seq)
            return
        if cid in self.received:
            if self.received[cid] == seq:
                self.repeats += 1  # the same message again (a resume overlapping what came live)
            else:
                self.duplicates += 1  # the same client message written under two seqs
            return
        if seq <= self.last_seq:
            self.out_of_order += 1
        self.last_seq = max(self.last_seq, seq)
        self.received[cid] = seq
        sent = self.sent.get(cid)
        if sent is not None:
            self.deliveries.append((now - self.clock0, now - sent))

    # --- visitor -------------------------------------------------------------------------------
    async def run_visitor(self, stop_sending: asyncio.Event, stop: asyncio.Event, args):
        sender = None
        first, backoff = True, 0.2
        while not stop.is_set():
            try:
                async with self.sem:
                    ws = await connect(
                        f"{self.visitor_url}/ws/visitor/?token={self.token}",
                        origin=self.origin,
                        max_queue=None,
                        open_timeout=300 if first else 10,
                        ping_interval=None,
                        compression=None,
                    )
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
            except CONNECT_ERRORS:
                if first and not self.args.retry_first_connect:
                    raise
                self.visitor.connect_failures += 1
                await _sleep(stop, backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, 3.0)
                continue
            backoff = 0.2
            try:
                if hello.get("type") != "hello":
                    raise ConnectionError(f"no hello: {hello}")
                if not first:
                    self.visitor.back()
                first = False
                last = {c["id"]: c["last_seq"] for c in hello["conversations"]}.get(self.conversation_id, 0)
                await ws.send(
                    json.dumps({"type": "subscribe", "conversation_id": self.conversation_id, "last_seq": last})
                )
                self.visitor_ready.set()
                if sender is None:
                    sender = asyncio.create_task(self._generate(stop_sending, args))
                for cid in self.frames:  # anything not acked yet goes again on this socket, now
                    self.due[cid] = 0.0
                self.wake.set()
                flusher = asyncio.create_task(self._flush(ws, stop))
                try:
                    await self._visitor_read(ws, stop)
                finally:
                    flusher.cancel()
            except (ConnectionClosed, ConnectionError, OSError):
                pass
            finally:
                await _close(ws)
            if not stop.is_set():
                self.visitor.dropped()
                await _sleep(stop, 0.1 + random.random() * 0.4)
        if sender is not None:
            sender.cancel()

    def _queue(self, n: int) -> str:
        cid = f"{RUN_ID}-{self.index}-{n}"  # fresh per run: a reused id would be deduplicated
        frame = {
            "type": "send",
            "conversation_id": self.conversation_id,
            "client_msg_id": cid,
            "ref": cid,
            "body": f"bench message {n} from visitor {self.index}",
        }
        self.sent[cid] = time.monotonic()
        self.frames[cid] = json.dumps(frame)
        self.due[cid] = 0.0
        self.wake.set()
        return cid

    async def _generate(self, stop_sending, args):
        """The visitor types its messages, connected or not (a real client queues them)."""
        await self.go.wait()
        if args.closed_loop:
            await asyncio.sleep(random.random() * 0.5)
            n = 0
            while not stop_sending.is_set():
                cid = self._queue(n)
                n += 1
                while cid not in self.acked and not stop_sending.is_set():
                    self.acked_event.clear()
                    await _sleep(self.acked_event, 1.0)
            return
        interval = args.interval
        await asyncio.sleep(random.random() * interval)  # spread the senders evenly over an interval
        n = 0
        next_at = time.monotonic()
        while not stop_sending.is_set():
            self._queue(n)
            n += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                await _sleep(stop_sending, delay)

    async def _flush(self, ws, stop):
        """Send every unacked frame that is due: new ones at once, the others after --ack-timeout
        (doubled at each attempt on the same socket, at most 4x: a slow server is not sent the
        same message again and again) or after the delay the server asked for."""
        timeout = self.args.ack_timeout
        while not stop.is_set():
            await _sleep(self.wake, 1.0)
            self.wake.clear()
            now = time.monotonic()
            for cid, frame in list(self.frames.items()):
                if self.due.get(cid, 0.0) <= now:
                    if self.attempts[cid]:
                        self.resends += 1
                    self.attempts[cid] += 1
                    self.due[cid] = now + timeout * min(4, 2 ** (self.attempts[cid] - 1))
                    try:
                        await ws.send(frame)
                    except ConnectionClosed:
                        return  # the reader notices too; the next socket sends it

    async def _visitor_read(self, ws, stop):
        last_ping = time.monotonic()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                raw = None
            if time.monotonic() - last_ping > 25:
                last_ping = time.monotonic()
                await ws.send('{"type":"ping"}')
            if raw is None:
                continue
            frame = json.loads(raw)
            if frame["type"] == "ack":
                cid = frame["client_msg_id"]
                if cid not in self.acked:
                    self.acked[cid] = frame["seq"]
                    self.ack_times.append(time.monotonic() - self.clock0)
                if frame.get("duplicate"):
                    self.dup_acks += 1
                self.frames.pop(cid, None)
                self.due.pop(cid, None)
                self.acked_event.set()
            elif frame["type"] == "error":
                self.visitor.errors[frame["code"]] += 1
                cid = frame.get("ref")
                if frame.get("retry") and cid in self.frames:
                    delay = frame.get("retry_after_ms", 1000) / 1000
                    self.due[cid] = time.monotonic() + delay
                    asyncio.get_running_loop().call_later(delay, self.wake.set)
                elif cid in self.frames:
                    self.frames.pop(cid)  # refused for good: counted under its error code
                    self.acked_event.set()


async def _sleep(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        pass


async def _close(ws) -> None:
    try:
        await asyncio.wait_for(ws.close(), 2)
    except Exception:  # noqa: BLE001 - the socket is going away anyway
        pass


async def _pinger(ws, stop):
    while not stop.is_set():
        await asyncio.sleep(25)
        try:
            await ws.send('{"type":"ping"}')
        except ConnectionClosed:
            return  # the reader reconnects


def _placement(args, i: int) -> tuple[str, str]:
    n = len(args.url)
    visitor = args.url[i % n]
    agent = visitor if args.same_process else args.url[(i + 1) % n]
    return visitor, agent


async def run_slice(
    args, pairs_slice, data, start_at: float, clock0: float, push_slice=(), push_data=None, barrier=None
) -> dict:
    pairs = [Pair(i, p, data["agents"][p["agent"]], *_placement(args, i), data, clock0, args) for i, p in pairs_slice]
    pushes = [Pair(100_000 + i, p, None, *_placement(args, i), push_data, clock0, args) for i, p in push_slice]
    stop_sending, stop = asyncio.Event(), asyncio.Event()
    connect_sem = asyncio.Semaphore(args.connect_concurrency)
    cpu0 = time.process_time()
    # All client processes start connecting at the same wall-clock instant (a storm).
    await asyncio.sleep(max(0.0, start_at - time.time()))
    t0 = time.monotonic()

    go = asyncio.Event()
    tasks = []
    for pair in pairs + pushes:
        # Handshakes are limited in flight: a burst of thousands of SYNs beyond the listen
        # backlog stalls in the kernel's retransmission backoff.
        pair.sem, pair.go = connect_sem, go
        if pair.session:
            tasks.append(asyncio.create_task(pair.run_agent(stop)))
        tasks.append(asyncio.create_task(pair.run_visitor(stop_sending, stop, args)))
    everyone = pairs + pushes
    ready = asyncio.ensure_future(
        asyncio.gather(*(p.ready.wait() for p in everyone), *(p.visitor_ready.wait() for p in everyone))
    )
    # A client that cannot start (a refused first connect, a conversation no longer assigned to
    # its agent) ends the run at once instead of after the 900 s wait.
    done, _pending = await asyncio.wait([ready, *tasks], timeout=900, return_when=asyncio.FIRST_COMPLETED)
    while ready not in done:
        broken = [repr(t.exception()) for t in tasks if t.done() and not t.cancelled() and t.exception()][:3]
        if broken or not done:
            ready.cancel()
            stop_sending.set()
            stop.set()
            go.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise RuntimeError(f"{sum(p.ready.is_set() for p in pairs)}/{len(pairs)} agents ready; {broken}")
        rest = [t for t in tasks if not t.done()]
        done, _pending = await asyncio.wait([ready, *rest], timeout=900, return_when=asyncio.FIRST_COMPLETED)
    connected_in = time.monotonic() - t0
    print(f"[{2 * len(pairs)} sockets connected in {connected_in:.1f}s]", file=sys.stderr, flush=True)
    if args.connect_only:
        stop_sending.set()
        stop.set()
        go.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        failed = sum(p.agent.connect_failures + p.visitor.connect_failures for p in pairs)
        return {
            "connected_in": connected_in,
            "sockets": 2 * len(pairs),
            "cpu_s": time.process_time() - cpu0,
            "failed_connects": failed,
        }
    if barrier is not None:
        # Every client process starts sending together, once all of them are connected: a
        # process still in its connect storm must not overlap another's measurement.
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait, 900)
    await asyncio.sleep(args.warmup)  # visitors' subscribe answers settle
    cpu_send0 = time.process_time()
    server_cpu0 = server_cpu(args)
    go.set()
    start = time.monotonic() - clock0
    await asyncio.sleep(args.duration)
    stop_sending.set()
    send_end = time.monotonic() - clock0
    print("[sending stopped, draining]", file=sys.stderr, flush=True)
    # Wait until every message was acked and every acked one reached its agent, or --drain seconds
    # at most: what is still missing then is reported as lost (acked) or unacked.
    drain_until = time.monotonic() + args.drain
    while time.monotonic() < drain_until:
        if all(not p.frames for p in everyone) and all(p.acked.keys() <= p.received.keys() for p in pairs):
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
        "lost": sum(len(p.acked.keys() - p.received.keys()) for p in pairs),
        "unacked": sum(len(p.frames) for p in pairs),
        "duplicated": sum(p.duplicates for p in pairs),
        "out_of_order": sum(p.out_of_order for p in pairs),
        "repeats": sum(p.repeats for p in pairs),
        "resyncs": dict(sum((p.resyncs for p in pairs), Counter())),
        "resends": sum(p.resends for p in everyone),
        "dup_acks": sum(p.dup_acks for p in everyone),
        "errors": dict(sum((p.errors for p in pairs), Counter())),
        "agent": [p.agent.as_dict() for p in pairs],
        "visitor": [p.visitor.as_dict() for p in everyone],
        "pair_deliveries": [p.deliveries for p in pairs] if args.marks else [],
        "push_acked": {str(p.conversation_id): sorted(p.acked.values()) for p in pushes},
        "push_unacked": sum(len(p.frames) for p in pushes),
        "failures": failures[:5],
        "failure_count": len(failures),
        # what the agent of a conversation with lost messages lived through (to find the cause)
        "lost_detail": [
            {
                "conversation_id": p.conversation_id,
                "lost_seqs": sorted(p.acked[c] for c in p.acked.keys() - p.received.keys())[:10],
                "agent_last_seq": p.last_seq,
                "agent": p.agent.as_dict(),
                "visitor_disconnects": p.visitor.disconnects,
            }
            for p in pairs
            if p.acked.keys() - p.received.keys()
        ][:5],
    }
    return out


def _worker(args, pairs_slice, data, start_at, clock0, queue, push_slice=(), push_data=None, barrier=None):
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints where a client process is
    global RUN_ID
    RUN_ID = args.run_id  # one id for every client process (each imports this module)
    try:
        queue.put(asyncio.run(run_slice(args, pairs_slice, data, start_at, clock0, push_slice, push_data, barrier)))
    except BaseException as exc:  # noqa: BLE001
        if barrier is not None:
            barrier.abort()  # the other client processes stop waiting for this one
        queue.put({"fatal": repr(exc)})


def _latency_summary(latencies_ms: list[float]) -> dict:
    return {
        "p50": round(percentile(latencies_ms, 50), 1),
        "p95": round(percentile(latencies_ms, 95), 1),
        "p99": round(percentile(latencies_ms, 99), 1),
        "max": round(max(latencies_ms), 1) if latencies_ms else None,
        "mean": round(statistics.fmean(latencies_ms), 1) if latencies_ms else None,
    }


def recovery(pair_deliveries: list[list[tuple[float, float]]], mark: float) -> dict:
    """For an event at `mark` (seconds since clock0): per conversation, how long until a message
    sent at or after it was delivered. The slowest conversation is the time until every client
    delivers again."""
    per_pair, never = [], 0
    for deliveries in pair_deliveries:
        after = [received - mark for received, latency in deliveries if received - latency >= mark]
        if after:
            per_pair.append(min(after))
        else:
            never += 1
    return {
        "all_delivering_again_s": round(max(per_pair), 2) if per_pair and not never else None,
        "p50_s": round(percentile(per_pair, 50), 2) if per_pair else None,
        "p95_s": round(percentile(per_pair, 95), 2) if per_pair else None,
        "conversations_never_delivering_again": never,
    }


def _side_summary(sides: list[dict]) -> dict:
    reconnects = [x for s in sides for x in s["reconnect_s"]]
    errors: Counter = Counter()
    for s in sides:
        errors.update(s["errors"])
    return {
        "sockets_dropped": sum(1 for s in sides if s["disconnects"]),
        "disconnects": sum(s["disconnects"] for s in sides),
        "reconnect_p50_s": round(percentile(reconnects, 50), 2) if reconnects else None,
        "reconnect_max_s": round(max(reconnects), 2) if reconnects else None,
        "failed_connects": sum(s["connect_failures"] for s in sides),
        "errors": dict(errors),
        "still_down": sum(1 for s in sides if s["still_down"]),
    }


def summarise(args, parts: list[dict]) -> dict:
    if args.connect_only:
        return {
            "sockets": sum(p["sockets"] for p in parts),
            "connect_s": round(max(p["connected_in"] for p in parts), 2),
            "client_cpu_s": round(sum(p["cpu_s"] for p in parts), 1),
            "failed_connects": sum(p.get("failed_connects", 0) for p in parts),
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
        "repeats_dropped": sum(p["repeats"] for p in parts),
        "resyncs": dict(sum((Counter(p.get("resyncs", {})) for p in parts), Counter())),
        "resends": sum(p["resends"] for p in parts),
        "duplicate_acks": sum(p["dup_acks"] for p in parts),
        "agent": _side_summary([s for p in parts for s in p["agent"]]),
        "visitor": _side_summary([s for p in parts for s in p["visitor"]]),
        "run_id": args.run_id,
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
    push_acked: dict[str, list[int]] = {}
    for p in parts:
        push_acked.update(p["push_acked"])
    if push_acked:
        summary["push"] = {
            "conversations": len(push_acked),
            "acked": push_acked,
            "unacked": sum(p["push_unacked"] for p in parts),
        }
    if args.marks:
        try:
            with open(args.marks) as fh:
                marks = [json.loads(line) for line in fh if line.strip()]
        except FileNotFoundError:
            marks = []
        pair_deliveries = [d for p in parts for d in p["pair_deliveries"]]
        # marks are wall-clock times; deliveries are seconds since clock0
        summary["marks"] = [{**m, **recovery(pair_deliveries, m["t"] - args.clock0_wall)} for m in marks]
    lost_detail = [d for p in parts for d in p.get("lost_detail", [])]
    if lost_detail:
        summary["lost_detail"] = lost_detail[:5]
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
    parser.add_argument(
        "--retry-first-connect",
        action="store_true",
        help="a refused or timed-out first connect is retried with backoff, as a real client does in a "
        "reconnect storm (counted in failed_connects), instead of ending the run",
    )
    parser.add_argument("--connect-only", action="store_true", help="open every socket, report the time, close")
    parser.add_argument("--same-process", action="store_true", help="agent and visitor on the same --url")
    parser.add_argument("--bucket", type=float, default=0, help="timeline of delivery rate and latency per N s")
    parser.add_argument(
        "--cpu", action="append", default=[], help="name=pid,pid: CPU per message of these server processes"
    )
    parser.add_argument("--ack-timeout", type=float, default=15.0, help="send an unacked message again after this")
    parser.add_argument("--push-data", help="im_bench_prepare output of a tenant with a push webhook")
    parser.add_argument(
        "--push-conversations", type=int, default=0, help="visitors of --push-data whose agent stays offline"
    )
    parser.add_argument("--run-id", help="prefix of this run's client_msg_ids (default: from the clock)")
    parser.add_argument("--marks", help="file of JSON lines {t: wall clock, event: name} written during the run")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    args.run_id = args.run_id or RUN_ID
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
    push_data, push_pairs = None, []
    if args.push_data and args.push_conversations:
        with open(args.push_data) as fh:
            push_data = json.load(fh)
        push_pairs = list(enumerate(push_data["pairs"][: args.push_conversations]))
    slices = [pairs[i :: args.procs] for i in range(args.procs)]
    push_slices = [push_pairs[i :: args.procs] for i in range(args.procs)]
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 1.0 + 0.3 * args.procs  # after every client process has imported
    clock0 = time.monotonic()  # CLOCK_MONOTONIC is system-wide: every client process shares it
    args.clock0_wall = time.time()
    barrier = ctx.Barrier(args.procs)
    procs = [
        ctx.Process(target=_worker, args=(args, s, data, start_at, clock0, queue, ps, push_data, barrier))
        for s, ps in zip(slices, push_slices, strict=True)
    ]
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
