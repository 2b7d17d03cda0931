"""docker/compose.yml and the local topology (bench/topology/cluster.py) describe the same shape as
config/topology.py: every queue has workers, the channel layer is sharded, reads have a replica."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.topology.cluster import DEFAULT_WORKERS
from config import topology

pytestmark = [pytest.mark.smoke]

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())


def _queues_served(commands: list[list[str]]) -> set[str]:
    served = set()
    for command in commands:
        assert "-Q" in command, f"a worker without -Q serves only Celery's default queue: {command}"
        served |= set(command[command.index("-Q") + 1].split(","))
    return served


def test_every_celery_queue_has_workers_in_compose_and_in_the_local_topology():
    services = _compose()["services"]
    workers = [s["command"] for s in services.values() if "worker" in s.get("command", [])[:4]]
    assert _queues_served(workers) == set(topology.CELERY_QUEUE_NAMES)
    assert {q for queues, _n in DEFAULT_WORKERS.values() for q in queues.split(",")} == set(topology.CELERY_QUEUE_NAMES)
    routed = {route["queue"] for route in topology.CELERY_TASK_ROUTES.values()}
    assert routed <= set(topology.CELERY_QUEUE_NAMES)


def test_compose_shards_the_channel_layer_and_reads_from_a_replica(monkeypatch):
    compose = _compose()
    env = compose["x-app"]["environment"]
    shards = env["CHANNEL_REDIS_URLS"].split(",")
    assert len(shards) >= 2
    for url in shards:
        assert url.split("//")[1].split(":")[0] in compose["services"]
    monkeypatch.setenv("CHANNEL_REDIS_URLS", env["CHANNEL_REDIS_URLS"])
    assert topology.channel_layer_hosts("redis://unused:6379/0") == shards
    replica_host = env["DATABASE_REPLICA_URL"].split("@")[1].split(":")[0]
    assert "--read-only=1" in compose["services"][replica_host]["command"]
    monkeypatch.setenv("DATABASE_REPLICA_URL", "mysql://r:p@replica:3306/kefu")
    primary = {"ENGINE": "django.db.backends.mysql", "OPTIONS": {"charset": "utf8mb4"}, "CONN_MAX_AGE": 60}
    replica = topology.replica_database(primary)
    assert replica["HOST"] == "replica" and replica["OPTIONS"]["charset"] == "utf8mb4"
    assert replica["OPTIONS"]["connect_timeout"] == 2 and replica["TEST"] == {"MIRROR": "default"}


def test_the_local_nginx_is_docker_nginx_conf_pointed_at_local_processes(tmp_path):
    from bench.topology.cluster import Topology

    topo = Topology(tmp_path, base_port=30100, daphne=3)
    main, server = topo.nginx_conf()
    for port in (30121, 30122, 30123):
        assert f"server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" in server
    assert "web:8000" not in server and "listen 127.0.0.1:30100;" in server
    docker = (ROOT / "docker" / "nginx.conf").read_text()
    for line in docker.splitlines():
        if "proxy_" in line or "location" in line:
            assert (
                line.replace("/srv/media/", f"{tmp_path}/var/media/").replace(
                    "/srv/static/", f"{tmp_path}/var/staticfiles/"
                )
                in server
            )
    assert str(tmp_path / "nginx" / "server.conf") in main


def test_every_task_runs_again_when_the_database_is_briefly_unavailable():
    """A task that meets a restarting primary is retried with backoff instead of failing and
    dropping its work (the fault run 'restart the primary' lost pushes before this)."""
    from django.db import InterfaceError, OperationalError

    from celery_worker import app

    app.loader.import_default_modules()
    ours = [t for name, t in app.tasks.items() if name.startswith(("apps.", "core."))]
    assert len(ours) > 10
    for task in ours:
        retried = tuple(task.autoretry_for)
        assert any(issubclass(OperationalError, e) for e in retried), task.name
        assert any(issubclass(InterfaceError, e) for e in retried), task.name
        assert hasattr(task, "_orig_run"), task.name  # the autoretry wrapper is installed


def test_every_web_server_is_ours_with_the_transport_limit_and_no_proxy_headers(tmp_path, monkeypatch):
    """runall, the local topology, compose and the image all start daphne through
    apps.core.webserver (the 4 MiB websocket transport limit of docs/protocol.md), never with
    --proxy-headers: apps.core.proxy decides the client address from TRUSTED_PROXY_COUNT."""
    import json

    import honcho.manager
    from django.core.management import call_command

    from apps.core.webserver import KefuCommandLineInterface
    from apps.messaging.protocol import TRANSPORT_MAX_BYTES
    from bench.topology.cluster import Topology

    started: dict[str, str] = {}

    class Recorder:
        returncode = 0

        def add_process(self, name, cmd, **kwargs):
            started[name] = cmd

        def loop(self):
            pass

    monkeypatch.setattr(honcho.manager, "Manager", Recorder)
    with pytest.raises(SystemExit):
        call_command("runall", port=18999)
    compose = _compose()
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    cmd = json.loads(next(line for line in dockerfile.splitlines() if line.startswith("CMD "))[4:])
    commands = {
        "runall": started["web"].split(),
        "topology": Topology(tmp_path, base_port=30100, daphne=1).components["daphne-1"].argv,
        "compose": compose["services"]["web"]["command"],
        "Dockerfile": cmd,
    }
    for where, argv in commands.items():
        at = argv.index("-m")
        assert argv[at + 1] == "apps.core.webserver", where
        assert "--proxy-headers" not in argv, where
        assert argv[-1] == "config.asgi:application", where
    assert compose["x-app"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"
    args = KefuCommandLineInterface().parser.parse_args(["config.asgi:application"])
    assert args.websocket_max_message_size == args.websocket_max_frame_size == TRANSPORT_MAX_BYTES > 1024 * 1024
