"""The production topology on this machine, started once per test session: nginx in front of two
daphne processes, the channel layer sharded over two redis-server processes, a MariaDB primary and
a replica replicating from it (bench/topology/cluster.py, the code behind `make topology-up`).

It needs Debian's nginx, mariadb-server and redis-server, and mysqlclient (CI installs them all:
.ci/run). Where one is missing the tests are skipped and say which. Every process is stopped at
the end of the session, whatever happened.
"""

from __future__ import annotations

import json
import os
import socket

import pytest

from bench.topology.cluster import Topology, missing_programs


def _free_block(size: int = 30) -> int:
    """A base port with `size` free ports after it (several test runs may share this machine)."""
    start = 20000 + (os.getpid() % 300) * 40
    for base in range(start, 60000, 40):
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Running:
    def __init__(self, topo: Topology, data: dict):
        self.topo = topo
        self.data = data
        self.ws_url = topo.url.replace("http://", "ws://")


@pytest.fixture(scope="session")
def topology(tmp_path_factory):
    missing = missing_programs()
    if missing:
        pytest.skip(
            "the local production topology needs " + ", ".join(missing) + " (Debian packages; CI installs them)"
        )
    root = tmp_path_factory.mktemp("topology")
    topo = Topology(
        root,
        base_port=_free_block(),
        daphne=2,
        shards=2,
        replica=True,
        # One worker (it answers /healthz's ping); the queues' own workers are the fault runs' business.
        workers={"realtime": ("realtime,default", 1)},
        beat=False,
        durable=False,
        time_zones=["UTC", "Asia/Shanghai"],
        max_lag_seconds=2,
    )
    try:
        topo.up(log=lambda *_: None)
        out = root / "im.json"
        topo.manage("im_bench_prepare", "--conversations", "8", "--supervisor", "--out", str(out))
        yield Running(topo, json.loads(out.read_text()))
    finally:
        topo.down()
