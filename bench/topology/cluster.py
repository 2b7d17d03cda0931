"""The production topology on one machine, with the real programs and no Docker.

    python -m bench.topology up      # or: make topology-up
    python -m bench.topology status
    python -m bench.topology down    # or: make topology-down

What runs (ports from --base-port, 18400 by default):

| component | program | port |
|---|---|---|
| `nginx` | Debian's nginx, the server block of docker/nginx.conf | base |
| `redis-main` | redis-server: Celery broker, cache, rate limits, presence (AOF on) | base+1 |
| `mariadb-primary` | mariadbd, binlog + GTID | base+2 |
| `mariadb-replica` | mariadbd replicating from the primary (GTID, read-only) | base+3 |
| `redis-shard-N` | redis-server: the channel layer's shards (no persistence) | base+10+N |
| `daphne-N` | daphne, `config.settings.production` | base+20+N |
| `worker-<queue>` | one Celery worker per queue (config/topology.py) | - |
| `beat` | Celery beat, exactly one | - |

Every application process gets the environment docker/compose.yml gives its containers
(`DATABASE_URL`, `DATABASE_REPLICA_URL`, `REDIS_URL`, `CHANNEL_REDIS_URLS`, ...), read by
config/topology.py. State (data directories, logs, pids) lives under --root (var/topology by
default); `down` stops exactly the processes `up` started (pids checked against their command
line), and `--wipe` deletes the data. The fault runs (bench/faults.py) and the tests
(tests/topology/) drive the same class: start, stop, kill -9 and restart single components.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin") or ""
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db") or ""
MYSQL = shutil.which("mariadb") or shutil.which("mysql") or ""
REDIS_SERVER = shutil.which("redis-server") or ""
NGINX = shutil.which("nginx", path="/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin") or ""
TZINFO_TO_SQL = shutil.which("mariadb-tzinfo-to-sql") or shutil.which("mysql_tzinfo_to_sql") or ""

# Celery: one worker per queue. "default" (unrouted tasks, the /healthz ping) rides with realtime.
DEFAULT_WORKERS = {
    "realtime": ("realtime,default", 2),
    "bot": ("bot", 1),
    "outbound": ("outbound", 2),
    "reports": ("reports", 1),
}

APP_USER, APP_PASSWORD = "kefu", "kefu-topology"
RO_USER, RO_PASSWORD = "kefu_ro", "kefu-topology-ro"
REPL_USER, REPL_PASSWORD = "repl", "kefu-topology-repl"
DB_NAME = "kefu"


def missing_programs() -> list[str]:
    """Programs the topology needs that this machine lacks (Debian: nginx, mariadb-server, redis-server)."""
    need = {
        "mariadbd": MARIADBD,
        "mariadb-install-db": INSTALL_DB,
        "mariadb": MYSQL,
        "redis-server": REDIS_SERVER,
        "nginx": NGINX,
    }
    missing = [name for name, path in need.items() if not path]
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        missing.append("mysqlclient (pip install -r requirements-mysql.txt)")
    return missing


@dataclass
class Component:
    name: str
    kind: str  # mariadb | redis | daphne | worker | beat | nginx
    argv: list[str]
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)  # on top of the application environment
    app: bool = False  # a Django process: gets the application environment
    pid: int | None = None


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(predicate, timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


class Topology:
    def __init__(
        self,
        root: str | Path = REPO / "var" / "topology",
        *,
        base_port: int = 18400,
        daphne: int = 2,
        shards: int = 2,
        replica: bool = True,
        workers: dict[str, tuple[str, int]] | None = None,
        beat: bool = True,
        nginx: bool = True,
        max_lag_seconds: float = 5.0,
        extra_env: dict[str, str] | None = None,
        python: str = sys.executable,
        durable: bool = True,
        time_zones: list[str] | None = None,
    ):
        self.root = Path(root).resolve()
        self.base_port = base_port
        self.n_daphne, self.n_shards = daphne, shards
        self.with_replica, self.with_beat, self.with_nginx = replica, beat, nginx
        self.workers = DEFAULT_WORKERS if workers is None else workers
        self.max_lag_seconds = max_lag_seconds
        self.extra_env = dict(extra_env or {})
        self.python = python
        # durable=False (tests only): InnoDB and the binlog flush once a second instead of at every
        # commit, which makes creating the schema several times faster. Benchmarks keep the default.
        self.durable = durable
        self.time_zones = time_zones  # None: every zone in /usr/share/zoneinfo
        self.components: dict[str, Component] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._define()

    # --- layout --------------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.root / "topology.json"

    @property
    def nginx_port(self) -> int:
        return self.base_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def port_of(self, name: str) -> int:
        port = self.components[name].port
        assert port is not None, name
        return port

    def _define(self) -> None:
        b = self.base_port
        self._mariadb("mariadb-primary", b + 2, server_id=1, primary=True)
        if self.with_replica:
            self._mariadb("mariadb-replica", b + 3, server_id=2, primary=False)
        self._redis("redis-main", b + 1, persistent=True)
        for i in range(1, self.n_shards + 1):
            self._redis(f"redis-shard-{i}", b + 10 + i, persistent=False)
        for i in range(1, self.n_daphne + 1):
            port = b + 20 + i
            self.components[f"daphne-{i}"] = Component(
                f"daphne-{i}",
                "daphne",
                # daphne with the protocol's transport limit (apps.core.webserver), as in the image;
                # no --proxy-headers: apps.core.proxy trusts TRUSTED_PROXY_COUNT (1: nginx).
                [self.python, "-m", "apps.core.webserver", "-b", "127.0.0.1", "-p", str(port)]
                + ["config.asgi:application"],
                port=port,
                app=True,
            )
        for name, (queues, concurrency) in self.workers.items():
            self.components[f"worker-{name}"] = Component(
                f"worker-{name}",
                "worker",
                [self.python, "-m", "celery", "-A", "celery_worker", "worker", "-l", "WARNING", "-Q", queues]
                + ["-c", str(concurrency), "-n", f"{name}@topology", "--without-gossip", "--without-mingle"],
                app=True,
            )
        if self.with_beat:
            schedule = self.root / "beat" / "celerybeat-schedule"  # the directory is made by start()
            self.components["beat"] = Component(
                "beat",
                "beat",
                [self.python, "-m", "celery", "-A", "celery_worker", "beat", "-l", "WARNING", "-s", str(schedule)],
                app=True,
            )
        if self.with_nginx:
            conf = self.root / "nginx" / "nginx.conf"
            self.components["nginx"] = Component(
                "nginx",
                "nginx",
                [NGINX, "-c", str(conf), "-p", str(self.root / "nginx"), "-e", str(self.root / "nginx" / "error.log")]
                + ["-g", "daemon off;"],
                port=b,
            )

    def _mariadb(self, name: str, port: int, *, server_id: int, primary: bool) -> None:
        d = self.root / name
        argv = [
            MARIADBD,
            "--no-defaults",
            f"--datadir={d / 'data'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={d / 'mysqld.sock'}",
            f"--pid-file={d / 'mysqld.pid'}",
            f"--log-error={d / 'error.log'}",
            f"--server-id={server_id}",
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--transaction-isolation=READ-COMMITTED",
            "--innodb-buffer-pool-size=256M",
            "--innodb-log-file-size=96M",
            "--max-connections=600",
            "--gtid-strict-mode=1",
        ]
        if not self.durable:
            argv += ["--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0", "--innodb-doublewrite=0"]
        elif primary:
            # A committed transaction is in the binlog on disk too: a crash of the primary never
            # leaves the replica with writes the primary lost (group commit shares the fsync).
            argv += ["--sync-binlog=1"]
        if primary:
            argv += ["--log-bin=mysql-bin", "--binlog-format=ROW", "--expire-logs-days=1"]
        else:
            argv += ["--read-only=1", "--relay-log=relay-bin", "--relay-log-recovery=1", "--skip-log-bin"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        self.components[name] = Component(name, "mariadb", argv, port=port)

    def _redis(self, name: str, port: int, *, persistent: bool) -> None:
        d = self.root / name
        argv = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d), "--save", ""]
        argv += ["--appendonly", "yes" if persistent else "no", "--logfile", str(d / "redis.log")]
        argv += ["--daemonize", "no", "--maxclients", "10000"]
        self.components[name] = Component(name, "redis", argv, port=port)

    # --- environment ---------------------------------------------------------------------------
    def app_env(self) -> dict[str, str]:
        """What docker/compose.yml gives the web, worker and beat containers, for this machine."""
        var = self.root / "var"
        env = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "topology-local-only-secret-key-0123456789-abcdefghijklmnop",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{self.nginx_port},http://localhost:{self.nginx_port}",
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": f"mysql://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{self.port_of('mariadb-primary')}/{DB_NAME}",
            "REDIS_URL": f"redis://127.0.0.1:{self.port_of('redis-main')}/0",
            "CHANNEL_REDIS_URLS": ",".join(
                f"redis://127.0.0.1:{self.port_of(f'redis-shard-{i}')}/0" for i in range(1, self.n_shards + 1)
            ),
            "REPLICA_MAX_LAG_SECONDS": str(self.max_lag_seconds),
            "KEFU_VAR_DIR": str(var),
            "STATIC_ROOT": str(var / "staticfiles"),
            "MEDIA_ROOT": str(var / "media"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        if self.with_replica:
            env["DATABASE_REPLICA_URL"] = (
                f"mysql://{RO_USER}:{RO_PASSWORD}@127.0.0.1:{self.port_of('mariadb-replica')}/{DB_NAME}"
            )
        env.update(self.extra_env)
        return env

    def _env_for(self, comp: Component) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CHANNEL_REDIS"))}
        if comp.app:
            env.update(self.app_env())
        env.update(comp.env)
        return env

    # --- processes -----------------------------------------------------------------------------
    def _log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def start(self, name: str, *, wait: bool = True, timeout: float = 60) -> None:
        comp = self.components[name]
        if self.running(name):
            return
        if comp.port and _port_open(comp.port):
            raise RuntimeError(f"{name}: port {comp.port} is taken by another program (choose another --base-port)")
        self._log(name).parent.mkdir(parents=True, exist_ok=True)
        if comp.kind in ("redis", "beat"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        with open(self._log(name), "ab") as log:
            proc = subprocess.Popen(
                comp.argv,
                cwd=REPO,
                env=self._env_for(comp),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach a worker's children too
            )
        self._procs[name] = proc
        comp.pid = proc.pid
        self._save()
        if wait:
            self.wait_ready(name, timeout=timeout)

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        comp = self.components[name]

        def ready() -> bool:
            if not self.running(name):
                tail = self._log(name).read_text(errors="replace")[-2000:] if self._log(name).exists() else ""
                raise RuntimeError(f"{name} exited while starting:\n{tail}")
            if comp.kind == "mariadb":
                return self.sql(name, "SELECT 1", check=False).returncode == 0
            if comp.port:
                return _port_open(comp.port)
            return True

        _wait(ready, timeout, name, poll=0.2)

    def running(self, name: str) -> bool:
        proc = self._procs.get(name)
        if proc is not None:
            return proc.poll() is None
        pid = self.components[name].pid
        return bool(pid) and self._is_ours(name, pid)

    def _is_ours(self, name: str, pid: int) -> bool:
        """The pid is alive (not a zombie) and still runs the program we started (pids get reused)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        argv0 = os.path.basename(self.components[name].argv[0]).encode()
        return any(argv0 in part for part in cmdline[:3])

    def signal(self, name: str, sig: int) -> None:
        """Send a signal to the component's process group (a Celery worker and its pool children)."""
        pid = self.components[name].pid
        if not pid or not self.running(name):
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, *names: str, timeout: float = 30) -> None:
        """Graceful stop (SIGTERM: MariaDB shuts down cleanly, Celery finishes running tasks; nginx
        SIGQUIT). Several names are stopped together."""
        for name in names:
            self.signal(name, signal.SIGQUIT if self.components[name].kind == "nginx" else signal.SIGTERM)
        for name in names:
            self._reap(name, timeout)

    def kill(self, *names: str) -> None:
        """kill -9: the process (group) dies at once, as in a crash."""
        for name in names:
            self.signal(name, signal.SIGKILL)
        for name in names:
            self._reap(name, 10)

    def _reap(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.running(name) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.running(name):
            self.signal(name, signal.SIGKILL)
            while self.running(name) and time.monotonic() < deadline + 10:
                time.sleep(0.1)
        proc = self._procs.pop(name, None)
        if proc is not None:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.components[name].pid = None
        self._save()

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    # --- MariaDB -------------------------------------------------------------------------------
    def sql(self, name: str, statement: str, *, check: bool = True, names: bool = False) -> subprocess.CompletedProcess:
        """Run SQL on one MariaDB server as root over its socket (the topology's own servers only)."""
        sock = self.root / name / "mysqld.sock"
        return subprocess.run(
            [MYSQL, "--no-defaults", f"--socket={sock}", "-uroot", "-B", "-e", statement] + ([] if names else ["-N"]),
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def _install_mariadb(self, name: str) -> bool:
        data = self.root / name / "data"
        if (data / "mysql").exists():
            return False
        data.mkdir(parents=True, exist_ok=True)
        argv = [INSTALL_DB, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal"]
        argv += ["--skip-test-db"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        with open(self._log(name), "ab") as log:
            subprocess.run(argv, check=True, stdout=log, stderr=subprocess.STDOUT, timeout=120)
        return True

    def _bootstrap_primary(self) -> None:
        app, ro, repl = f"'{APP_USER}'@'127.0.0.1'", f"'{RO_USER}'@'127.0.0.1'", f"'{REPL_USER}'@'127.0.0.1'"
        self.sql(
            "mariadb-primary",
            f"CREATE DATABASE IF NOT EXISTS {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
            f"CREATE USER IF NOT EXISTS {app} IDENTIFIED BY '{APP_PASSWORD}';"
            f"GRANT ALL ON {DB_NAME}.* TO {app};"
            # The replica's reader: SELECT, and SHOW REPLICA STATUS for the router's lag check.
            f"CREATE USER IF NOT EXISTS {ro} IDENTIFIED BY '{RO_PASSWORD}';"
            f"GRANT SELECT ON {DB_NAME}.* TO {ro}; GRANT SLAVE MONITOR ON *.* TO {ro};"
            f"SET sql_log_bin=0; CREATE USER IF NOT EXISTS {repl} IDENTIFIED BY '{REPL_PASSWORD}';"
            f"GRANT REPLICATION SLAVE ON *.* TO {repl}; SET sql_log_bin=1;",
        )
        # Time zone tables: Django's per-tenant date functions (reports by day/hour) need them.
        # Replicated to the replica with everything else.
        if TZINFO_TO_SQL:
            if self.time_zones is None:
                tz_sql = subprocess.run([TZINFO_TO_SQL, "/usr/share/zoneinfo"], capture_output=True, check=True).stdout
            else:
                tz_sql = b"".join(
                    subprocess.run(
                        [TZINFO_TO_SQL, f"/usr/share/zoneinfo/{zone}", zone], capture_output=True, check=True
                    ).stdout
                    for zone in self.time_zones
                )
            sock = self.root / "mariadb-primary" / "mysqld.sock"
            subprocess.run(
                [MYSQL, "--no-defaults", f"--socket={sock}", "-uroot", "mysql"], input=tz_sql, check=True, timeout=300
            )

    def _configure_replica(self) -> None:
        self.sql(
            "mariadb-replica",
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={self.port_of('mariadb-primary')}, "
            f"MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, "
            "MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1; START SLAVE;",
        )

    def replica_status(self) -> dict:
        out = self.sql("mariadb-replica", "SHOW REPLICA STATUS\\G", check=False, names=True).stdout
        status = {}
        for line in out.splitlines():
            if ":" in line:
                key, _, value = line.partition(":")
                status[key.strip()] = value.strip()
        return status

    def wait_replica_caught_up(self, timeout: float = 120) -> None:
        def caught_up() -> bool:
            primary = self.sql("mariadb-primary", "SELECT @@gtid_binlog_pos").stdout.strip()
            replica = self.sql("mariadb-replica", "SELECT @@gtid_slave_pos", check=False).stdout.strip()
            return primary == replica

        _wait(caught_up, timeout, "replica catching up", poll=0.2)

    # --- nginx ---------------------------------------------------------------------------------
    def nginx_conf(self) -> tuple[str, str]:
        """docker/nginx.conf's server block, pointed at this machine's daphne processes and files,
        inside a minimal nginx.conf: the same locations, headers and timeouts as production.
        Returns (nginx.conf, server.conf)."""
        server = (REPO / "docker" / "nginx.conf").read_text()
        m = re.search(r"^(\s*)server\s+web:8000([^;]*);", server, flags=re.M)
        if not m:
            raise RuntimeError("docker/nginx.conf: expected a 'server web:8000 ...;' line in the upstream block")
        indent, params = m.group(1), m.group(2)
        lines = "".join(
            f"{indent}server 127.0.0.1:{self.port_of(f'daphne-{i}')}{params};" for i in range(1, self.n_daphne + 1)
        )
        server = server[: m.start()] + lines.lstrip("\n") + server[m.end() :]
        server = re.sub(r"listen\s+80\s*;", f"listen 127.0.0.1:{self.nginx_port};", server)
        var = self.root / "var"
        server = server.replace("/srv/static/", f"{var / 'staticfiles'}/").replace("/srv/media/", f"{var / 'media'}/")
        d = self.root / "nginx"
        user = "user root;\n" if os.geteuid() == 0 else ""
        return (
            f"""# Generated by bench/topology/cluster.py from docker/nginx.conf: edit that file, not this one.
{user}worker_processes 1;
worker_rlimit_nofile 20000;
pid {d / "nginx.pid"};
events {{ worker_connections 9000; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format topology '$remote_addr [$time_local] "$request" $status $body_bytes_sent upstream=$upstream_addr rt=$request_time';
    access_log {d / "access.log"} topology;
    client_body_temp_path {d / "tmp" / "body"};
    proxy_temp_path {d / "tmp" / "proxy"};
    fastcgi_temp_path {d / "tmp" / "fastcgi"};
    uwsgi_temp_path {d / "tmp" / "uwsgi"};
    scgi_temp_path {d / "tmp" / "scgi"};
    # Local only: which daphne served a request or a websocket (tests and fault runs read it).
    add_header X-Kefu-Upstream $upstream_addr always;
    include {d / "server.conf"};
}}
""",
            server,
        )

    def _write_nginx(self) -> None:
        d = self.root / "nginx"
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        main, server = self.nginx_conf()
        (d / "server.conf").write_text(server)
        (d / "nginx.conf").write_text(main)

    # --- the application -----------------------------------------------------------------------
    def manage(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CHANNEL_REDIS"))}
        env.update(self.app_env())
        return subprocess.run(
            [self.python, "manage.py", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def healthz(self, timeout: float = 10) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=timeout) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    # --- whole topology ------------------------------------------------------------------------
    def up(self, *, migrate: bool = True, collectstatic: bool = True, log=print) -> None:
        missing = missing_programs()
        if missing:
            raise RuntimeError("missing: " + ", ".join(missing))
        t0 = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        self._save()
        fresh_primary = self._install_mariadb("mariadb-primary")
        fresh_replica = self.with_replica and self._install_mariadb("mariadb-replica")
        self.start("mariadb-primary", wait=False)
        if self.with_replica:
            self.start("mariadb-replica", wait=False)
        for name in [n for n, c in self.components.items() if c.kind == "redis"]:
            self.start(name, wait=False)
        self.wait_ready("mariadb-primary")
        if fresh_primary:
            self._bootstrap_primary()
        if self.with_replica:
            self.wait_ready("mariadb-replica")
            if fresh_replica:
                self._configure_replica()
        for name in [n for n, c in self.components.items() if c.kind == "redis"]:
            self.wait_ready(name)
        log(f"[topology] databases and redis up in {time.monotonic() - t0:.1f}s")
        if collectstatic:
            self.manage("collectstatic", "--noinput", "-v", "0")
        # daphne imports Django while the schema is being created (it touches the database only
        # when a request comes); workers and beat start once the tables exist.
        for name in self.names("daphne"):
            self.start(name, wait=False)
        if migrate:
            self.manage("migrate", "--noinput", "-v", "0")
            log(f"[topology] migrated in {time.monotonic() - t0:.1f}s")
        for name in self.names("worker", "beat"):
            self.start(name, wait=False)
        for name in self.names("daphne"):
            self.wait_ready(name)
        if self.with_nginx:
            self._write_nginx()
            self.start("nginx")
        if self.with_replica:
            self.wait_replica_caught_up()
        log(f"[topology] up in {time.monotonic() - t0:.1f}s: {self.url}")

    def names(self, *kinds: str) -> list[str]:
        return [n for n, c in self.components.items() if c.kind in kinds]

    def down(self, *, wipe: bool = False) -> None:
        """Stop everything, front to back: nothing is left running, whatever state it was in."""
        self.stop(*self.names("nginx"), timeout=10)
        self.stop(*self.names("beat", "worker", "daphne"), timeout=15)
        self.stop(*self.names("redis", "mariadb"), timeout=60)
        if wipe and self.root.exists():
            shutil.rmtree(self.root)

    def status(self) -> dict[str, dict]:
        return {
            name: {"running": self.running(name), "pid": c.pid, "port": c.port, "log": str(self._log(name))}
            for name, c in self.components.items()
        }

    # --- state between commands ----------------------------------------------------------------
    def _save(self) -> None:
        if not self.root.exists():
            return
        data = {
            "config": {
                "base_port": self.base_port,
                "daphne": self.n_daphne,
                "shards": self.n_shards,
                "replica": self.with_replica,
                "workers": self.workers,
                "beat": self.with_beat,
                "nginx": self.with_nginx,
                "max_lag_seconds": self.max_lag_seconds,
                "extra_env": self.extra_env,
                "durable": self.durable,
                "time_zones": self.time_zones,
            },
            "components": {name: asdict(c) for name, c in self.components.items()},
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.state_file)

    @classmethod
    def load(cls, root: str | Path = REPO / "var" / "topology") -> Topology:
        root = Path(root)
        data = json.loads((root / "topology.json").read_text())
        cfg = data["config"]
        topo = cls(
            root,
            base_port=cfg["base_port"],
            daphne=cfg["daphne"],
            shards=cfg["shards"],
            replica=cfg["replica"],
            workers={k: tuple(v) for k, v in cfg["workers"].items()},
            beat=cfg["beat"],
            nginx=cfg["nginx"],
            max_lag_seconds=cfg["max_lag_seconds"],
            extra_env=cfg.get("extra_env") or {},
            durable=cfg.get("durable", True),
            time_zones=cfg.get("time_zones"),
        )
        for name, comp in data["components"].items():
            if name in topo.components:
                topo.components[name].pid = comp.get("pid")
        return topo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.topology", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(REPO / "var" / "topology"))
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start everything (creates the databases on first use)")
    up.add_argument("--base-port", type=int, default=18400)
    up.add_argument("--daphne", type=int, default=2, help="daphne processes behind nginx")
    up.add_argument("--shards", type=int, default=2, help="redis-server processes for the channel layer")
    up.add_argument("--no-replica", action="store_true")
    up.add_argument("--no-workers", action="store_true", help="no Celery workers or beat")
    up.add_argument("--max-lag", type=float, default=5.0, help="REPLICA_MAX_LAG_SECONDS")
    up.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra application setting")
    down = sub.add_parser("down", help="stop every process `up` started")
    down.add_argument("--wipe", action="store_true", help="also delete the data directories")
    sub.add_parser("status")
    for verb in ("start", "stop", "kill", "restart"):
        p = sub.add_parser(verb, help=f"{verb} one component (see status)")
        p.add_argument("component")
    args = parser.parse_args(argv)

    if args.command == "up":
        if Path(args.root, "topology.json").exists():
            topo = Topology.load(args.root)
            if any(topo.running(n) for n in topo.components):
                print(f"already running (python -m bench.topology status --root {args.root})", file=sys.stderr)
                return 1
        topo = Topology(
            args.root,
            base_port=args.base_port,
            daphne=args.daphne,
            shards=args.shards,
            replica=not args.no_replica,
            workers={} if args.no_workers else None,
            beat=not args.no_workers,
            max_lag_seconds=args.max_lag,
            extra_env=dict(item.split("=", 1) for item in args.env),
        )
        try:
            topo.up()
        except BaseException:
            topo.down()
            raise
        code, health = topo.healthz()
        print(json.dumps({"url": topo.url, "healthz": code, "components": health.get("components")}, indent=1))
        return 0
    topo = Topology.load(args.root)
    if args.command == "down":
        topo.down(wipe=args.wipe)
    elif args.command == "status":
        print(json.dumps(topo.status(), indent=1))
    else:
        getattr(topo, args.command)(args.component)
    return 0


if __name__ == "__main__":
    sys.exit(main())
