#!/usr/bin/env python
"""The fault table: each fault injected into the local production topology under a steady IM load.

    python bench/faults.py                 # or: make faults   (every row, ~15 minutes)
    python bench/faults.py --only kill_daphne,primary_restart --conversations 200 --interval 1

It starts its own topology (bench/topology/cluster.py; root var/topology-faults, ports from 18600:
nginx, 2 daphne, 2 channel-layer Redis shards, MariaDB primary + replica with durable defaults,
one Celery worker per queue + beat), prepares two tenants with im_bench_prepare (the IM pairs, and
visitors of a tenant with a push webhook whose agents stay offline, so Celery has deliveries to
make), then for each row runs bench/im_load.py through nginx (reconnecting, resuming by seq and
resending by client_msg_id like the real clients), injects the fault --fault-at seconds into the
sending, undoes it --outage seconds later, and reports:

- lost / duplicated / out of order at the agents (must be 0), unacked at the visitors (must be 0),
  rows written twice in the database (must be 0);
- time until every conversation delivers again, from the fault and from its repair;
- what agents and visitors saw: sockets dropped, reconnect times, error codes;
- per row: offline pushes (every acked message of the push tenant POSTed to the local webhook, one
  PushDelivery row each), report page answers while it ran (status, read from replica/primary);
- the load average before and after each row.

Faults (--only names): kill_daphne (kill -9 one daphne, started again after --outage),
redis_shard (stop one channel-layer shard, started again, empty), celery_workers (kill -9 every
worker mid-work; tasks come back after the visibility timeout, set to 20 s here), replica_stop
(stop the replica; reports read the primary), primary_restart (stop MariaDB's primary cleanly and
start it again; sends get `unavailable` and are resent).

Local only and bounded: everything runs on 127.0.0.1 and is stopped at the end (--keep-up leaves
the topology running for a look; `python -m bench.topology --root var/topology-faults down`).
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.topology.cluster import Topology  # noqa: E402

FAULTS = [
    "baseline",
    "kill_daphne",
    "rolling_restart",
    "redis_shard",
    "celery_workers",
    "replica_stop",
    "primary_restart",
    "heartbeat",
]
DESCRIPTIONS = {
    "baseline": "none (baseline: what each component spends per message)",
    "kill_daphne": "kill -9 one of two daphne (restarted after the outage)",
    "rolling_restart": "rolling restart of every daphne, one at a time (a deploy)",
    "redis_shard": "stop one of two channel-layer Redis shards, start it again (empty)",
    "celery_workers": "kill -9 every Celery worker, start them again",
    "replica_stop": "stop the MariaDB replica, start it again",
    "primary_restart": "restart the MariaDB primary (clean stop, start)",
    "heartbeat": "none: idle sockets only, what a heartbeat (ping every 25 s) costs",
}


# --- the tenant's push endpoint: a local HTTP server that records what it receives ---------------
class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.posts: list[dict] = []

        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(body)
                    with receiver.lock:
                        receiver.posts.append(
                            {
                                "t": time.time(),
                                "delivery": int(self.headers.get("X-Kefu-Delivery") or 0),
                                "conversation_id": payload["conversation_id"],
                                "seq": payload["message"]["seq"],
                            }
                        )
                    self.send_response(200)
                except (ValueError, KeyError):
                    self.send_response(400)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.posts)


class Meter:
    """What each component spent during a row: CPU seconds (process group, children included),
    bytes through its sockets and files (/proc/<pid>/io), Redis commands and network bytes per
    server, the primary's statements, InnoDB rows and fsyncs."""

    TICK = os.sysconf("SC_CLK_TCK")
    MYSQL_STATUS = (
        "Com_commit",
        "Com_insert",
        "Com_update",
        "Com_select",
        "Innodb_rows_inserted",
        "Innodb_rows_updated",
        "Innodb_data_fsyncs",
        "Innodb_os_log_written",
        "Binlog_bytes_written",
        "Bytes_received",
        "Bytes_sent",
        "Questions",
    )

    def __init__(self, topo: Topology):
        self.topo = topo

    def _groups(self) -> dict[str, tuple[float, int, int]]:
        pgids = {c.pid: name for name, c in self.topo.components.items() if c.pid}
        out: dict[str, list] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                io = dict(line.split(": ") for line in Path(f"/proc/{entry}/io").read_text().splitlines())
            except (OSError, ValueError):
                continue
            name = pgids.get(int(stat[2]))  # field 5 (pgrp) after the command
            if name is None:
                continue
            cpu = (int(stat[11]) + int(stat[12])) / self.TICK  # utime + stime
            acc = out.setdefault(name, [0.0, 0, 0])
            acc[0] += cpu
            acc[1] += int(io["rchar"])
            acc[2] += int(io["wchar"])
        return {k: tuple(v) for k, v in out.items()}

    def _redis(self) -> dict[str, dict[str, int]]:
        out = {}
        for name in self.topo.names("redis"):
            try:
                info = subprocess.run(
                    ["redis-cli", "-p", str(self.topo.port_of(name)), "INFO", "stats"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
            out[name] = {
                k: int(fields.get(k, 0))
                for k in ("total_commands_processed", "total_net_input_bytes", "total_net_output_bytes")
            }
        return out

    def _mysql(self) -> dict[str, int]:
        names = ",".join(f"'{n}'" for n in self.MYSQL_STATUS)
        out = self.topo.sql("mariadb-primary", f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})", check=False)
        return {line.split()[0]: int(line.split()[1]) for line in out.stdout.splitlines() if line.strip()}

    def snapshot(self) -> dict:
        return {"t": time.monotonic(), "proc": self._groups(), "redis": self._redis(), "mysql": self._mysql()}

    @staticmethod
    def delta(a: dict, b: dict, messages: int) -> dict:
        per = max(messages, 1)
        seconds = b["t"] - a["t"]
        kinds: dict[str, list[float]] = {}
        for name, (cpu, rchar, wchar) in b["proc"].items():
            cpu0, r0, w0 = a["proc"].get(name, (cpu, rchar, wchar))
            kind = name.rsplit("-", 1)[0] if name[-1].isdigit() else name
            kind = "worker" if name.startswith("worker-") else kind
            acc = kinds.setdefault(kind, [0.0, 0, 0])
            acc[0] += cpu - cpu0
            acc[1] += rchar - r0
            acc[2] += wchar - w0
        by_name = {
            name: round((cpu - a["proc"].get(name, (cpu, 0, 0))[0]) * 1000 / per, 3)
            for name, (cpu, _r, _w) in sorted(b["proc"].items())
        }
        out = {
            "seconds": round(seconds, 1),
            "messages": messages,
            "cpu_ms_per_message": {k: round(v[0] * 1000 / per, 3) for k, v in sorted(kinds.items())},
            "cpu_ms_per_message_by_process": by_name,  # e.g. which Celery queue's workers
            "cpu_share_of_a_core": {k: round(v[0] / seconds, 3) for k, v in sorted(kinds.items())},
            "io_bytes_per_message": {k: round((v[1] + v[2]) / per) for k, v in sorted(kinds.items())},
            "redis_per_message": {},
            "mysql_per_message": {},
        }
        for name, now in b["redis"].items():
            before = a["redis"].get(name)
            if before:
                out["redis_per_message"][name] = {
                    "commands": round((now["total_commands_processed"] - before["total_commands_processed"]) / per, 2),
                    "net_bytes": round(
                        (now["total_net_input_bytes"] + now["total_net_output_bytes"])
                        - (before["total_net_input_bytes"] + before["total_net_output_bytes"])
                    )
                    // per,
                }
        for key, value in b["mysql"].items():
            if key in a["mysql"]:
                out["mysql_per_message"][key] = round((value - a["mysql"][key]) / per, 2)
        return out


LOADS: list[subprocess.Popen] = []  # load tools started by this run


def stop_load(load: subprocess.Popen) -> None:
    """End a load tool and its client processes if it still runs (hung, or this run stops)."""
    if load.poll() is None:
        try:
            os.killpg(load.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        load.wait()


def loadavg() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def mark(path: Path, event: str) -> float:
    t = time.time()
    with open(path, "a") as fh:
        fh.write(json.dumps({"t": t, "event": event}) + "\n")
    print(f"  [{time.strftime('%H:%M:%S')}] {event}", flush=True)
    return t


class ReportWatcher:
    """A supervisor opening the history page every half second through nginx during the row, and
    /healthz for where reads go."""

    def __init__(self, topo: Topology, session: str, cookie_name: str):
        self.topo, self.session, self.cookie_name = topo, session, cookie_name
        self.samples: list[dict] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            started = time.time()
            request = urllib.request.Request(
                self.topo.url + "/supervisor/history/", headers={"Cookie": f"{self.cookie_name}={self.session}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as resp:
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0
            try:
                reads_from = self.topo.healthz(timeout=10)[1]["components"].get("replica", {}).get("reads_from")
            except (OSError, ValueError, KeyError):
                reads_from = None
            self.samples.append(
                {"t": started, "status": status, "ms": (time.time() - started) * 1000, "reads": reads_from}
            )
            self.stop.wait(0.5)

    def summary(self, marks: dict[str, float]) -> dict:
        statuses: dict[str, int] = {}
        for s in self.samples:
            statuses[str(s["status"])] = statuses.get(str(s["status"]), 0) + 1
        out = {"requests": len(self.samples), "statuses": statuses}
        if self.samples:
            out["max_ms"] = round(max(s["ms"] for s in self.samples))
        first = marks.get("fault")
        if first:
            primary = [s["t"] - first for s in self.samples if s["t"] >= first and s["reads"] == "primary"]
            if primary:
                out["reads_on_primary_after_fault_s"] = round(min(primary), 1)
            back = marks.get("repair")
            if back and primary:
                again = [s["t"] - back for s in self.samples if s["t"] >= back and s["reads"] == "replica"]
                if again:
                    out["reads_on_replica_again_after_repair_s"] = round(min(again), 1)
        return out


def run_row(fault: str, topo: Topology, args, data_file: Path, push_file: Path, receiver: Receiver, out_dir: Path):
    run_id = f"f{int(time.time()) % 10_000_000:x}"
    marks_file = out_dir / f"marks-{fault}-{run_id}.jsonl"
    data = json.loads(data_file.read_text())
    push = json.loads(push_file.read_text())
    watcher = ReportWatcher(topo, data["supervisor"]["session"], data["session_cookie_name"])
    before = loadavg()
    posts_before = len(receiver.snapshot())
    print(f"\n== {fault}: {DESCRIPTIONS[fault]} (load {before})", flush=True)
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "im_load.py"),
        "--data",
        str(data_file),
        "--url",
        topo.url.replace("http://", "ws://"),
        "--conversations",
        str(args.conversations),
        "--interval",
        str(args.interval),
        "--duration",
        str(args.duration),
        "--drain",
        str(args.drain),
        "--procs",
        str(args.procs),
        "--push-data",
        str(push_file),
        "--push-conversations",
        str(args.push_conversations),
        "--marks",
        str(marks_file),
        "--run-id",
        run_id,
        "--ack-timeout",
        str(args.ack_timeout),
        "--json",
    ]
    # Its own process group: a load tool that hangs is ended with its client processes.
    load = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    LOADS.append(load)
    # Wait until the clients are connected and sending.
    for line in load.stderr:
        if "connected in" in line:
            print("  " + line.strip(), flush=True)
            break
    else:
        load.wait()
        raise RuntimeError(f"im_load did not connect (exit {load.returncode})")
    stderr_rest: list[str] = []
    threading.Thread(target=lambda: stderr_rest.extend(load.stderr), daemon=True).start()
    meter = Meter(topo)
    time.sleep(3)  # im_load's warmup
    first = meter.snapshot()
    time.sleep(args.fault_at)
    watcher.thread.start()
    marks: dict[str, float] = {}
    if fault == "baseline":
        pass
    elif fault in ("primary_restart", "rolling_restart"):
        # Done as one step: "repaired" when the last piece is back.
        marks["fault"] = mark(marks_file, f"fault: {fault}")
        inject(fault, topo)
        # Restarted at once: "repaired" when it accepts connections again.
        topo.wait_ready("mariadb-primary", timeout=180)
        marks["repair"] = mark(marks_file, "repair")
    else:
        marks["fault"] = mark(marks_file, f"fault: {fault}")
        inject(fault, topo)
        time.sleep(args.outage)
        marks["repair"] = mark(marks_file, "repair")
        repair(fault, topo)
    try:
        out, _err = load.communicate(timeout=args.duration + args.drain + 300)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"im_load hung: {''.join(stderr_rest)[-3000:]}") from None
    finally:
        stop_load(load)
    last = meter.snapshot()
    watcher.stop.set()
    watcher.thread.join(35)
    if load.returncode != 0:
        raise RuntimeError(f"im_load failed: {''.join(stderr_rest)[-3000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    summary["load_before"], summary["load_after"] = before, loadavg()
    summary["reports"] = watcher.summary(marks)
    summary["db"] = db_check(topo, run_id)
    summary["push_check"] = push_check(topo, receiver, summary.get("push", {}), push["tenant_id"], posts_before, marks)
    summary["fault"] = fault
    summary["resources"] = Meter.delta(first, last, summary["acked_persisted"])
    settle(topo)
    return summary


def run_heartbeat(topo: Topology, args, out_dir: Path) -> dict:
    """Idle sockets (no messages): CPU, Redis and database work per heartbeat ping. Every socket
    pings every 25 s; the server compares its conversations with the database and adds the socket
    to its groups again (a restarted shard forgets them)."""
    data_file = out_dir / "heartbeat.json"
    if not data_file.exists():
        topo.manage("im_bench_prepare", "--conversations", str(args.heartbeat_conversations), "--out", str(data_file))
    before = loadavg()
    print(f"\n== heartbeat: {2 * args.heartbeat_conversations} idle sockets (load {before})", flush=True)
    cmd = [sys.executable, str(ROOT / "bench" / "im_load.py"), "--data", str(data_file)]
    cmd += ["--url", topo.url.replace("http://", "ws://"), "--conversations", str(args.heartbeat_conversations)]
    cmd += ["--interval", "100000", "--duration", "100", "--drain", "1", "--procs", str(args.procs), "--json"]
    load = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in load.stderr:
        if "connected in" in line:
            print("  " + line.strip(), flush=True)
            break
    threading.Thread(target=lambda: list(load.stderr), daemon=True).start()
    meter = Meter(topo)
    time.sleep(20)  # the connect burst is over
    first = meter.snapshot()
    time.sleep(75)  # three heartbeats of every socket
    last = meter.snapshot()
    out, _err = load.communicate()
    summary = json.loads(out.strip().splitlines()[-1])
    sockets = 2 * args.heartbeat_conversations
    pings = round(sockets * (last["t"] - first["t"]) / 25)
    resources = Meter.delta(first, last, pings)
    resources["per"] = "ping"
    return {
        "fault": "heartbeat",
        "sockets": sockets,
        "pings": pings,
        "connect_s": summary["connect_s"],
        "resources": resources,
        "load_before": before,
        "load_after": loadavg(),
    }


def inject(fault: str, topo: Topology) -> None:
    if fault == "kill_daphne":
        topo.kill("daphne-1")
    elif fault == "rolling_restart":
        for name in topo.names("daphne"):
            topo.restart(name)  # SIGTERM: daphne closes its sockets, clients reconnect to the others
    elif fault == "redis_shard":
        topo.stop("redis-shard-1")
    elif fault == "celery_workers":
        topo.kill(*topo.names("worker"))
    elif fault == "replica_stop":
        topo.stop("mariadb-replica")
    elif fault == "primary_restart":
        topo.stop("mariadb-primary")
        topo.start("mariadb-primary", wait=False)  # restarts at once; down while it shuts down and starts
    else:
        raise ValueError(fault)


def repair(fault: str, topo: Topology) -> None:
    if fault == "kill_daphne":
        topo.start("daphne-1")
    elif fault == "rolling_restart":
        pass
    elif fault == "redis_shard":
        topo.start("redis-shard-1")
    elif fault == "celery_workers":
        for name in topo.names("worker"):
            topo.start(name, wait=False)
    elif fault == "replica_stop":
        topo.start("mariadb-replica")


def settle(topo: Topology) -> None:
    """Everything back and the replica caught up before the next row."""
    for name in topo.components:
        if not topo.running(name):
            topo.start(name)
    topo.wait_replica_caught_up(timeout=300)


def db_check(topo: Topology, run_id: str) -> dict:
    rows = topo.sql(
        "mariadb-primary",
        "SELECT COUNT(*), COUNT(DISTINCT conversation_id, client_msg_id) FROM kefu.messaging_message "
        f"WHERE client_msg_id LIKE '{run_id}-%'",
    ).stdout.split()
    total, distinct = int(rows[0]), int(rows[1])
    return {"rows": total, "written_twice": total - distinct}


def push_check(topo: Topology, receiver: Receiver, push: dict, tenant_id: int, posts_before: int, marks) -> dict:
    """Every acked message of the push tenant's visitors must reach the webhook (their agents are
    offline), through exactly one delivery row; a POST received twice is a redelivery the
    receiver de-duplicates by X-Kefu-Delivery."""
    acked = {(int(c), seq) for c, seqs in push.get("acked", {}).items() for seq in seqs}
    if not acked:
        return {}
    # The outbound queue drains after the run; a killed worker's tasks come back only after the
    # broker's visibility timeout and kombu's next restore of unacked messages (minutes).
    deadline = time.time() + 300
    while True:
        posts = receiver.snapshot()[posts_before:]
        got = {(p["conversation_id"], p["seq"]) for p in posts}
        if acked <= got or time.time() > deadline:
            break
        time.sleep(1)
    deliveries = [p["delivery"] for p in posts]
    rows = topo.sql(
        "mariadb-primary",
        "SELECT COUNT(*), COUNT(DISTINCT d.message_id, d.recipient_kind, d.recipient_id) "
        "FROM kefu.messaging_pushdelivery d JOIN kefu.messaging_message m ON m.id = d.message_id "
        f"WHERE d.tenant_id = {tenant_id}",
    ).stdout.split()
    out = {
        "acked_messages": len(acked),
        "pushed": len(acked & got),
        "not_pushed": len(acked - got),
        "posts": len(posts),
        "posted_twice": len(deliveries) - len(set(deliveries)),
        "delivery_rows_twice": int(rows[0]) - int(rows[1]),
    }
    repair_at = marks.get("repair")
    if repair_at:
        after = [p["t"] - repair_at for p in posts if p["t"] >= repair_at]
        if after:
            out["first_push_after_repair_s"] = round(min(after), 1)
            out["last_push_after_repair_s"] = round(max(after), 1)
    return out


def prepare(topo: Topology, receiver: Receiver, args, out_dir: Path) -> Path:
    """The push tenant: visitors whose agents never connect, with the local Receiver as webhook."""
    push_file = out_dir / "push.json"
    topo.manage("im_bench_prepare", "--conversations", str(args.push_conversations), "--out", str(push_file))
    push = json.loads(push_file.read_text())
    topo.sql(
        "mariadb-primary",
        f"UPDATE kefu.tenants_tenant SET push_webhook_url='http://127.0.0.1:{receiver.port}/push' "
        f"WHERE id={push['tenant_id']}",
    )
    topo.wait_replica_caught_up()
    return push_file


def prepare_row(topo: Topology, args, out_dir: Path, fault: str) -> Path:
    """A fresh IM tenant per row: between two rows the agents are disconnected for longer than the
    offline grace period (30 s), after which dispatch rightly hands their conversations back to the
    queue, so a tenant is used for one row only."""
    data_file = out_dir / f"im-{fault}.json"
    topo.manage("im_bench_prepare", "--conversations", str(args.conversations), "--supervisor", "--out", str(data_file))
    topo.wait_replica_caught_up()
    return data_file


def row_markdown(s: dict) -> str:
    marks = {m["event"].split(":")[0]: m for m in s.get("marks", [])}
    fault_m, repair_m = marks.get("fault", {}), marks.get("repair", {})

    def seen(side: dict) -> str:
        parts = [f"{side['sockets_dropped']} sockets dropped"]
        if side["reconnect_max_s"] is not None:
            parts.append(f"back in p50 {side['reconnect_p50_s']} s / max {side['reconnect_max_s']} s")
        if side["errors"]:
            parts.append("errors " + ", ".join(f"{k}×{v}" for k, v in side["errors"].items()))
        return "; ".join(parts)

    push = s.get("push_check") or {}
    reports = s.get("reports") or {}
    extra = []
    if push:
        extra.append(
            f"pushes {push['pushed']}/{push['acked_messages']} delivered, "
            f"{push['delivery_rows_twice']} rows twice, {push['posted_twice']} POSTed twice"
            + (
                f", first / last after repair +{push['first_push_after_repair_s']} / "
                f"+{push.get('last_push_after_repair_s', '?')} s"
                if "first_push_after_repair_s" in push
                else ""
            )
        )
    if reports:
        extra.append(
            "history page "
            + ", ".join(f"{k}×{v}" for k, v in reports["statuses"].items())
            + (
                f", on primary +{reports['reads_on_primary_after_fault_s']} s"
                if "reads_on_primary_after_fault_s" in reports
                else ""
            )
            + (
                f", on replica again +{reports['reads_on_replica_again_after_repair_s']} s after repair"
                if "reads_on_replica_again_after_repair_s" in reports
                else ""
            )
        )
    return (
        f"| {DESCRIPTIONS[s['fault']]} | {s['offered_msgs_per_s']} / {s['persisted_msgs_per_s']} | "
        f"**{s['lost']} / {s['duplicated']} / {s['out_of_order']}** ({s['unacked']} unacked, {s['db']['written_twice']} rows twice) | "
        f"{fault_m.get('all_delivering_again_s')} s / {repair_m.get('all_delivering_again_s')} s | "
        f"{s['latency_ms']['p50']} / {s['latency_ms']['p99']} / {s['latency_ms']['max']} | "
        f"agent: {seen(s['agent'])}. visitor: {seen(s['visitor'])}; {s['resends']} resends, {s['duplicate_acks']} duplicate acks | "
        f"{'; '.join(extra)} | {s['load_before']} → {s['load_after']} |"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(ROOT / "var" / "topology-faults"))
    parser.add_argument("--base-port", type=int, default=18600)
    parser.add_argument("--only", help="comma-separated fault names: " + ",".join(FAULTS))
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between a visitor's messages")
    parser.add_argument("--duration", type=float, default=45.0, help="seconds of sending per row")
    parser.add_argument("--fault-at", type=float, default=10.0, help="seconds into the sending")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds until the fault is undone")
    parser.add_argument("--drain", type=float, default=120.0)
    parser.add_argument("--procs", type=int, default=2, help="load-generator processes")
    parser.add_argument("--push-conversations", type=int, default=20)
    parser.add_argument(
        "--ack-timeout", type=float, default=20.0, help="a visitor sends an unacked message again after this (s)"
    )
    parser.add_argument("--daphne", type=int, default=2)
    parser.add_argument("--heartbeat-conversations", type=int, default=1000, help="pairs of idle sockets")
    parser.add_argument("--keep-up", action="store_true", help="leave the topology running")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench" / "faults.json"))
    args = parser.parse_args(argv)
    faults = args.only.split(",") if args.only else FAULTS
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")

    receiver = Receiver()
    out_dir = Path(args.root) / "runs"
    topo = Topology(
        args.root,
        base_port=args.base_port,
        daphne=args.daphne,
        shards=2,
        # The broker hands a dead worker's tasks out again after this (production: 3600 s).
        # The push tenant's webhook is the local Receiver: outbound calls refuse loopback otherwise
        # (apps.outbound.guard; docs/webhooks.md).
        extra_env={"CELERY_VISIBILITY_TIMEOUT": "20", "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32"},
    )
    results: list[dict] = []

    def save() -> None:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False))

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")  # the topology is stopped on the way out

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)  # also when started in the background (SIGINT ignored)
    try:
        topo.up()
        out_dir.mkdir(parents=True, exist_ok=True)
        push_file = prepare(topo, receiver, args, out_dir)
        for fault in faults:
            if fault == "heartbeat":
                results.append(run_heartbeat(topo, args, out_dir))
                print(json.dumps(results[-1]["resources"], indent=1), flush=True)
                continue
            data_file = prepare_row(topo, args, out_dir, fault)
            results.append(run_row(fault, topo, args, data_file, push_file, receiver, out_dir))
            save()  # row by row: an interrupted run keeps what it measured
            print(row_markdown(results[-1]), flush=True)
    finally:
        for load in LOADS:
            stop_load(load)
        if results:
            save()
        if not args.keep_up:
            topo.down()
    print(
        "\n| fault | offered / persisted msg/s | lost / duplicated / out of order | every conversation delivering "
        "again, from fault / from repair | latency p50 / p99 / max ms | what agents and visitors saw | "
        "Celery pushes, reports | load avg before → after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows = [s for s in results if s["fault"] != "heartbeat"]
    for s in rows:
        print(row_markdown(s))
    bad = [s["fault"] for s in rows if s["lost"] or s["duplicated"] or s["out_of_order"] or s["unacked"]]
    bad += [s["fault"] for s in rows if s["db"]["written_twice"] or (s.get("push_check") or {}).get("not_pushed")]
    if bad:
        print(f"\nFAILED: {sorted(set(bad))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
