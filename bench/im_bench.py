#!/usr/bin/env python
"""One command per goal of issue 16 (IM layer throughput), each starting its own servers.

    .venv/bin/python bench/im_bench.py prepare                 # database + 2000 pairs + idle visitors
    .venv/bin/python bench/im_bench.py saturation              # closed loop: max persisted+delivered msgs/s
    .venv/bin/python bench/im_bench.py relay                   # the same against the bare relay (no DB)
    .venv/bin/python bench/im_bench.py latency                 # 2000 conversations, 1 msg / 5 s: p99
    .venv/bin/python bench/im_bench.py connect                 # 4000 sockets connecting at once
    .venv/bin/python bench/im_bench.py idle                    # 10,000 idle sockets: server RSS
    .venv/bin/python bench/im_bench.py soak                    # 30 min at 400 msgs/s: memory and latency
    .venv/bin/python bench/im_bench.py all                     # every run above but the soak
    .venv/bin/python bench/im_bench.py goals                   # every run above, the soak too, then the goal table
    .venv/bin/python bench/im_bench.py goals --soak-minutes 1 --scale 0.1   # the same, tiny: checks the tool
    .venv/bin/python bench/im_bench.py table                   # the tables of the last runs (no run)

Production settings (`config.settings.production`) on MariaDB (database `kefu_im_bench`, created
by `prepare`) and Redis (key prefix `kefuimbench`), N daphne processes (--servers, default one per
core), a Celery worker for the work the send path enqueues, the load generator on the same
machine. Every run appends its result to var/bench/im-results.json; `table` renders the last
result of each kind. CPU per message = CPU seconds the server processes used between the first
and the last message of the run (drain included) / messages persisted; MariaDB and Redis are
shared with whatever else runs on the machine, so their figures are only clean on a quiet box.
The load average is recorded with every result. `--scale` multiplies every run's default size
(conversations, sockets) so the whole chain can be checked end to end in a few minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV = ROOT / ".venv" / "bin"
DATA = ROOT / "var" / "bench" / "im.json"
RESULTS = ROOT / "var" / "bench" / "im-results.json"
LOGS = ROOT / "var" / "bench" / "logs"
DB_NAME = os.environ.get("IM_BENCH_DB", "kefu_im_bench")
APP_PORT, RELAY_PORT = 8160, 8180
TICK = os.sysconf("SC_CLK_TCK")

BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "im-bench-secret-key-0123456789abcdef0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
    "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DB_NAME}",
    "REDIS_URL": os.environ.get("IM_BENCH_REDIS", "redis://127.0.0.1:6379/3"),
    "REDIS_PREFIX": "kefuimbench",
}


def env() -> dict:
    e = dict(os.environ)
    e.update(BENCH_ENV)
    e["PYTHONPATH"] = str(ROOT)
    return e


# --- processes ---------------------------------------------------------------------------------


def proc_cpu_s(pid: int) -> float:
    """user+system CPU seconds of a process and its reaped children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICK


def rss_mib(pid: int) -> float:
    total, pids = 0, [pid]
    while pids:
        p = pids.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            pids += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except FileNotFoundError:
            pass
    return total / 1024


def shared_pids() -> dict[str, list[int]]:
    """MariaDB and Redis: shared with the rest of the machine."""
    out = {}
    mariadb = subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True, text=True).stdout.split()
    if mariadb:
        # the one listening on 3306 (other engineers may run private servers)
        listening = subprocess.run(["ss", "-ltnpH", "sport = :3306"], capture_output=True, text=True).stdout
        out["mariadb"] = [int(p) for p in mariadb if f"pid={p}," in listening] or [int(mariadb[0])]
    info = subprocess.run(["redis-cli", "-p", "6379", "info", "server"], capture_output=True, text=True).stdout
    for line in info.splitlines():
        if line.startswith("process_id:"):
            out["redis"] = [int(line.split(":")[1])]
    return out


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


class Servers:
    """daphne processes (the app or the bare relay) and, for the app, one Celery worker."""

    def __init__(self, target: str, count: int, celery: bool = True):
        self.target, self.count, self.celery = target, count, celery and target == "app"
        self.procs: dict[str, list[subprocess.Popen]] = {"daphne": [], "celery": []}
        self.ports: list[int] = []

    def __enter__(self):
        LOGS.mkdir(parents=True, exist_ok=True)
        if self.target == "app":
            # The code may have new migrations since `prepare`: an unmigrated table makes every
            # send fail (answered `unavailable`), which reads as a throughput of zero.
            subprocess.run([str(VENV / "python"), "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env(), check=True)
        base = APP_PORT if self.target == "app" else RELAY_PORT
        app = "config.asgi:application" if self.target == "app" else "bench.im_relay:application"
        extra = {"IM_RELAY_DATA": str(DATA)}
        for i in range(self.count):
            port = base + i
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                raise RuntimeError(f"port {port} is already in use")
            log = open(LOGS / f"{self.target}-{port}.log", "w")
            # How every deployment starts daphne (apps.core.webserver: daphne's own options).
            cmd = [str(VENV / "python"), "-m", "apps.core.webserver", "-v", "0"]
            cmd += ["-e", f"tcp:port={port}:interface=127.0.0.1:backlog=4096", app]
            self.procs["daphne"].append(
                subprocess.Popen(cmd, cwd=ROOT, env={**env(), **extra}, stdout=log, stderr=log, start_new_session=True)
            )
            self.ports.append(port)
        if self.celery:
            log = open(LOGS / "celery.log", "w")
            from config.topology import CELERY_QUEUE_NAMES

            queues = ",".join(CELERY_QUEUE_NAMES)
            cmd = [str(VENV / "celery"), "-A", "celery_worker", "worker", "-P", "solo", "-l", "WARNING", "-Q", queues]
            self.procs["celery"].append(
                subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=log, stderr=log, start_new_session=True)
            )
        for port in self.ports:
            wait_port(port)
        time.sleep(1.0)
        return self

    @property
    def urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{p}" for p in self.ports]

    def groups(self) -> dict[str, list[int]]:
        out = {k: [p.pid for p in v] for k, v in self.procs.items() if v}
        out.update(shared_pids())
        return out

    def __exit__(self, *exc):
        for procs in self.procs.values():
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for procs in self.procs.values():
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()


def flush_redis() -> None:
    """Forget the previous run's channel-layer queues and Celery backlog (only our prefix)."""
    import redis

    r = redis.Redis.from_url(BENCH_ENV["REDIS_URL"])
    keys = list(r.scan_iter(match=f"{BENCH_ENV['REDIS_PREFIX']}:*", count=1000))
    for i in range(0, len(keys), 500):
        r.delete(*keys[i : i + 500])


class Sampler(threading.Thread):
    """CPU and RSS of the server processes every `every` seconds (soak timeline)."""

    def __init__(self, groups: dict[str, list[int]], every: float):
        super().__init__(daemon=True)
        self.groups, self.every, self.samples, self.stopped = groups, every, [], threading.Event()

    def snapshot(self) -> dict:
        return {
            "t": time.monotonic(),
            "cpu": {g: sum(proc_cpu_s(p) for p in pids) for g, pids in self.groups.items()},
            "rss": {g: round(sum(rss_mib(p) for p in pids), 1) for g, pids in self.groups.items()},
        }

    def run(self):
        while not self.stopped.wait(self.every):
            self.samples.append(self.snapshot())

    def stop(self):
        self.stopped.set()
        self.join()


# --- runs --------------------------------------------------------------------------------------


def load(urls, extra: list[str], groups: dict[str, list[int]] | None = None) -> dict:
    # A handshake refused under load is retried as a real client would (sending starts only once
    # every pair is connected, so no run's figures include it).
    cmd = [str(VENV / "python"), str(ROOT / "bench" / "im_load.py"), "--data", str(DATA), "--json"]
    cmd += ["--retry-first-connect"]
    for u in urls:
        cmd += ["--url", u]
    if groups:
        for g, pids in groups.items():
            cmd += ["--cpu", f"{g}={','.join(map(str, pids))}"]
    cmd += extra
    print("$", " ".join(cmd[1:]), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, text=True)
    if out.returncode:
        raise RuntimeError(f"im_load failed ({out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def record(kind: str, args, result: dict, started_load: tuple) -> dict:
    entry = {
        "kind": kind,
        "at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip(),
        "servers": args.servers,
        "loadavg_before": started_load,
        "loadavg_after": os.getloadavg(),
        "result": result,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    history.append(entry)
    RESULTS.write_text(json.dumps(history, indent=1))
    print(json.dumps(entry, indent=1))
    return entry


def run_load(kind: str, target: str, args, extra: list[str]) -> dict:
    flush_redis()
    load0 = os.getloadavg()
    with Servers(target, args.servers, celery=not args.no_celery) as servers:
        groups = servers.groups()
        result = load(servers.urls, extra + ["--procs", str(args.client_procs)], groups)
        result["rss_mib_after"] = {g: round(sum(rss_mib(p) for p in pids), 1) for g, pids in groups.items()}
    return record(kind, args, result, load0)


def scaled(args, n: int) -> int:
    return max(2, round(n * args.scale))


def cmd_saturation(args, target="app"):
    kind = "saturation" if target == "app" else "relay"
    return run_load(
        kind,
        target,
        args,
        [
            "--conversations",
            str(args.conversations or scaled(args, 400)),
            "--closed-loop",
            "--duration",
            str(args.duration or 30),
            "--drain",
            "60",
        ],
    )


def cmd_relay(args):
    return cmd_saturation(args, target="relay")


def cmd_latency(args):
    conversations = args.conversations or scaled(args, 2000)
    return run_load(
        "latency",
        "app",
        args,
        [
            "--conversations",
            str(conversations),
            "--interval",
            str(args.interval or 5),
            "--duration",
            str(args.duration or 60),
            "--connect-concurrency",
            "200",
        ],
    )


def cmd_connect(args):
    conversations = (args.sockets or scaled(args, 4000)) // 2
    return run_load(
        "connect",
        args.target,
        args,
        [
            "--conversations",
            str(conversations),
            "--connect-only",
            "--connect-concurrency",
            str(args.concurrency),
        ],
    )


def cmd_idle(args):
    flush_redis()
    load0 = os.getloadavg()
    with Servers("app", args.servers, celery=False) as servers:
        pids = ",".join(str(p.pid) for p in servers.procs["daphne"])
        cmd = [str(VENV / "python"), str(ROOT / "bench" / "im_idle.py"), "--data", str(DATA)]
        for u in servers.urls:
            cmd += ["--url", u]
        cmd += ["--sockets", str(args.sockets or scaled(args, 10000)), "--pids", pids, "--hold", "20"]
        cmd += ["--procs", str(max(2, args.client_procs)), "--concurrency", str(args.concurrency)]
        print("$", " ".join(cmd[1:]), file=sys.stderr, flush=True)
        out = subprocess.run(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, text=True, check=True)
        result = json.loads(out.stdout)
    return record("idle", args, result, load0)


def cmd_soak(args):
    flush_redis()
    load0 = os.getloadavg()
    minutes = args.soak_minutes
    with Servers("app", args.servers, celery=not args.no_celery) as servers:
        groups = servers.groups()
        sampler = Sampler({g: pids for g, pids in groups.items() if g in ("daphne", "celery")}, every=60)
        sampler.samples.append(sampler.snapshot())
        sampler.start()
        try:
            result = load(
                servers.urls,
                [
                    "--conversations",
                    str(args.conversations or scaled(args, 2000)),
                    "--interval",
                    str(args.interval or 5),
                    "--duration",
                    str(minutes * 60),
                    "--bucket",
                    "60",
                    "--connect-concurrency",
                    "200",
                    "--procs",
                    str(args.client_procs),
                ],
                groups,
            )
        finally:
            sampler.stop()
        t0 = sampler.samples[0]["t"]
        result["rss_timeline"] = [{"t_s": round(s["t"] - t0), **s["rss"]} for s in sampler.samples]
    return record("soak", args, result, load0)


def cmd_prepare(args):
    subprocess.run(
        [
            "mysql",
            "-h127.0.0.1",
            "-uroot",
            "-e",
            f"drop database if exists {DB_NAME}; "
            f"create database {DB_NAME} character set utf8mb4 collate utf8mb4_unicode_ci",
        ],
        check=True,
    )
    py = str(VENV / "python")
    subprocess.run([py, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env(), check=True)
    subprocess.run(
        [
            py,
            "manage.py",
            "im_bench_prepare",
            "--conversations",
            str(args.conversations or scaled(args, 2000)),
            "--visitors-only",
            str(args.idle_visitors),
            "--out",
            str(DATA),
        ],
        cwd=ROOT,
        env=env(),
        check=True,
    )


def cmd_all(args):
    for fn in (cmd_saturation, cmd_relay, cmd_latency, cmd_connect, cmd_idle):
        fn(args)
    cmd_table(args)


def _cpu_cell(result: dict, group: str) -> str:
    value = (result.get("cpu_ms_per_msg") or {}).get(group)
    return "" if value is None else f"{value:.2f}"


def cmd_table(args):
    history = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    last: dict[str, dict] = {}
    for entry in history:
        last[entry["kind"]] = entry
    rows = ["| run | when (load avg 1 min before → after) | result |", "|---|---|---|"]

    def when(e):
        return f"{e['at']} @{e['commit']} ({e['loadavg_before'][0]:.1f} → {e['loadavg_after'][0]:.1f})"

    for kind in ("saturation", "relay"):
        if kind in last:
            e, r = last[kind], last[kind]["result"]
            lat = r["latency_ms"]
            rows.append(
                f"| {kind} ({e['servers']} daphne, {r['conversations']} closed-loop senders) | {when(e)} | "
                f"**{r['persisted_msgs_per_s']:.0f} persisted / {r['delivered_msgs_per_s']:.0f} delivered msgs/s**; "
                f"CPU ms/msg: daphne {_cpu_cell(r, 'daphne')}, celery {_cpu_cell(r, 'celery') or '-'}, "
                f"MariaDB {_cpu_cell(r, 'mariadb')}, Redis {_cpu_cell(r, 'redis')}, client {r.get('client_cpu_ms_per_msg')}; "
                f"p50/p99 {lat['p50']}/{lat['p99']} ms; lost/dup/ooo {r['lost']}/{r['duplicated']}/{r['out_of_order']} |"
            )
    if "saturation" in last and "relay" in last:
        a, b = last["saturation"]["result"], last["relay"]["result"]
        ratio = min(a["persisted_msgs_per_s"], a["delivered_msgs_per_s"]) / max(1e-9, b["delivered_msgs_per_s"])
        rows.append(f"| ratio to the bare relay | | **{ratio:.2f}** (delivered msgs/s, app / relay) |")
    if "latency" in last:
        e, r = last["latency"], last["latency"]["result"]
        lat = r["latency_ms"]
        rows.append(
            f"| latency ({r['conversations']} conversations, {r['mode']}) | {when(e)} | "
            f"{r['persisted_msgs_per_s']:.0f} msgs/s; p50/p95/p99/max **{lat['p50']}/{lat['p95']}/{lat['p99']}**/{lat['max']} ms; "
            f"lost/dup/ooo {r['lost']}/{r['duplicated']}/{r['out_of_order']}; CPU ms/msg daphne {_cpu_cell(r, 'daphne')} |"
        )
    if "connect" in last:
        e, r = last["connect"], last["connect"]["result"]
        rows.append(f"| connect storm | {when(e)} | **{r['sockets']} sockets in {r['connect_s']} s** |")
    if "idle" in last:
        e, r = last["idle"], last["idle"]["result"]
        rows.append(
            f"| idle sockets | {when(e)} | **{r['opened']} open ({r['failed']} failed), server RSS "
            f"{r['rss_before_mib']} → {r['rss_with_sockets_mib']} MiB** ({r['kib_per_socket']} KiB per socket) |"
        )
    if "soak" in last:
        e, r = last["soak"], last["soak"]["result"]
        tl = r.get("timeline", [])
        rss = r.get("rss_timeline", [])
        p99s = [b["p99_ms"] for b in tl]
        daphne_rss = [s.get("daphne") for s in rss]
        rows.append(
            f"| soak {r['duration_s'] / 60:.0f} min, {r['mode']} | {when(e)} | "
            f"p99 per minute {min(p99s, default=0)}–{max(p99s, default=0)} ms; daphne RSS "
            f"{daphne_rss[0] if daphne_rss else '?'} → {daphne_rss[-1] if daphne_rss else '?'} MiB; "
            f"lost/dup/ooo {r['lost']}/{r['duplicated']}/{r['out_of_order']} |"
        )
    print("\n".join(rows))
    print()
    print("\n".join(goal_rows(last)))


def goal_rows(last: dict[str, dict]) -> list[str]:
    """Issue 16's goals against the last result of each kind: target, measured, met."""
    rows = ["| goal (issue 16) | measured | load avg 1 min (before → after) | met |", "|---|---|---|---|"]

    def load(e):
        return f"{e['loadavg_before'][0]:.1f} → {e['loadavg_after'][0]:.1f}"

    def clean(r):
        return r["lost"] == r["duplicated"] == r["out_of_order"] == 0

    def mark(ok):
        return "yes" if ok else "**no**"

    if "saturation" in last:
        e, r = last["saturation"], last["saturation"]["result"]
        rate = min(r["persisted_msgs_per_s"], r["delivered_msgs_per_s"])
        rows.append(
            f"| saturation ≥ 1,000 msgs/s persisted and delivered, nothing lost | {r['persisted_msgs_per_s']:.0f} "
            f"persisted / {r['delivered_msgs_per_s']:.0f} delivered, lost/dup/ooo "
            f"{r['lost']}/{r['duplicated']}/{r['out_of_order']} | {load(e)} | {mark(rate >= 1000 and clean(r))} |"
        )
    if "latency" in last:
        e, r = last["latency"], last["latency"]["result"]
        p99 = r["latency_ms"]["p99"]
        ok = r["conversations"] >= 2000 and p99 < 100 and clean(r)
        rows.append(
            f"| {r['conversations']} conversations at 1 msg / 5 s: p99 < 100 ms, nothing lost | p99 {p99} ms, "
            f"lost/dup/ooo {r['lost']}/{r['duplicated']}/{r['out_of_order']} | {load(e)} | {mark(ok)} |"
        )
    if "connect" in last:
        e, r = last["connect"], last["connect"]["result"]
        ok = r["sockets"] >= 4000 and r["connect_s"] < 10
        rows.append(
            f"| 4,000 sockets connected < 10 s | {r['sockets']} in {r['connect_s']} s "
            f"({r.get('failed_connects', 0)} refused or timed-out attempts retried) | {load(e)} | {mark(ok)} |"
        )
    if "idle" in last:
        e, r = last["idle"], last["idle"]["result"]
        ok = r["opened"] >= 10000 and r["failed"] == 0 and r["rss_with_sockets_mib"] < 1024
        rows.append(
            f"| 10,000 idle sockets < 1 GB server RSS | {r['opened']} open, {r['rss_with_sockets_mib']} MiB "
            f"| {load(e)} | {mark(ok)} |"
        )
    if "saturation" in last and "relay" in last:
        a, b = last["saturation"]["result"], last["relay"]["result"]
        ratio = min(a["persisted_msgs_per_s"], a["delivered_msgs_per_s"]) / max(1e-9, b["delivered_msgs_per_s"])
        cpu_a = (a.get("cpu_ms_per_msg") or {}).get("daphne")
        cpu_b = (b.get("cpu_ms_per_msg") or {}).get("daphne")
        rows.append(
            f"| ratio to the bare relay (reported) | {ratio:.2f} (relay {b['delivered_msgs_per_s']:.0f} delivered "
            f"msgs/s, lost {b['lost']}); daphne CPU ms/msg {cpu_a} vs relay {cpu_b} | "
            f"{load(last['saturation'])} / {load(last['relay'])} | |"
        )
    if "soak" in last:
        e, r = last["soak"], last["soak"]["result"]
        p99s = [b["p99_ms"] for b in r.get("timeline", [])]
        rss = [s.get("daphne") for s in r.get("rss_timeline", []) if s.get("daphne")]
        flat = bool(rss) and rss[-1] <= rss[0] * 1.2 + 50 and bool(p99s) and max(p99s) < 1000
        rows.append(
            f"| soak {r['duration_s'] / 60:.0f} min at {r.get('offered_msgs_per_s') or '?'} msgs/s: memory and "
            f"latency flat | p99 per minute {min(p99s, default=0)}–{max(p99s, default=0)} ms, daphne RSS "
            f"{rss[0] if rss else '?'} → {rss[-1] if rss else '?'} MiB, lost/dup/ooo "
            f"{r['lost']}/{r['duplicated']}/{r['out_of_order']} | {load(e)} | {mark(flat and clean(r))} |"
        )
    return rows


def cmd_goals(args):
    """Every goal's run (the soak too unless --soak-minutes 0), then both tables."""
    runs = [cmd_saturation, cmd_relay, cmd_latency, cmd_connect, cmd_idle] + ([cmd_soak] if args.soak_minutes else [])
    for fn in runs:
        try:
            fn(args)
        except Exception as exc:  # noqa: BLE001 - one failed run must not hide the others' figures
            print(f"!! {fn.__name__} failed: {exc!r} (its row keeps the previous result)", file=sys.stderr)
    cmd_table(args)


def _stop(signum, _frame):

    raise SystemExit(128 + signum)  # so the servers started by this run are stopped on the way out


def main(argv=None):
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "command",
        choices=["prepare", "saturation", "relay", "latency", "connect", "idle", "soak", "all", "goals", "table"],
    )
    parser.add_argument("--servers", type=int, default=os.cpu_count() or 2, help="daphne processes")
    parser.add_argument("--client-procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--conversations", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0)
    parser.add_argument("--duration", type=float, default=0)
    parser.add_argument("--sockets", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=500, help="handshakes in flight per client process")
    parser.add_argument(
        "--soak-minutes",
        "--minutes",
        dest="soak_minutes",
        type=float,
        default=30,
        help="soak length (goals: 0 = no soak)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every run's default size (a quick check)")
    parser.add_argument("--idle-visitors", type=int, default=3000, help="prepare: visitors without a conversation")
    parser.add_argument("--target", choices=["app", "relay"], default="app", help="connect: which server")
    parser.add_argument("--no-celery", action="store_true", help="run without a Celery worker")
    args = parser.parse_args(argv)
    if args.command != "table" and not shutil.which("mysql"):
        sys.exit("the mysql client is needed")
    if args.command not in ("prepare", "table") and not DATA.exists():
        sys.exit(f"{DATA} is missing: run `bench/im_bench.py prepare` first")
    globals()[f"cmd_{args.command}"](args)


if __name__ == "__main__":
    main()
