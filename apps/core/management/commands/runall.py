"""Run the whole system in the foreground: embedded Redis (unless REDIS_URL is set), daphne
(HTTP + websockets), a Celery worker serving every queue and Celery beat. Ctrl-C stops every
process it started."""

from __future__ import annotations

import os
import sys
import threading
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand

from config.topology import CELERY_QUEUE_NAMES


class Command(BaseCommand):
    help = "Start web + websockets (daphne), Celery worker and beat (and the embedded Redis)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--concurrency", type=int, default=settings.CELERY_QUEUE_CONCURRENCY, help="worker processes per queue"
        )

    def handle(self, *args, port: int, host: str, concurrency: int, **options):
        from honcho.manager import Manager

        py = sys.executable
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
        env["PYTHONUNBUFFERED"] = "1"
        manager = Manager()
        if settings.EMBEDDED_REDIS:
            manager.add_process("redis", f"{py} -m apps.core.embedded_redis {settings.EMBEDDED_REDIS_SOCKET}", env=env)
        # daphne with the protocol's transport limit (apps.core.webserver). No --proxy-headers: the
        # client address is decided by apps.core.proxy (TRUSTED_PROXY_COUNT).
        manager.add_process("web", f"{py} -m apps.core.webserver -b {host} -p {port} config.asgi:application", env=env)
        # One worker serves every queue here; production runs workers per queue (config/topology.py).
        queues = ",".join(CELERY_QUEUE_NAMES)
        manager.add_process(
            "worker",
            f"{py} -m celery -A celery_worker worker -l INFO -c {concurrency} -n worker@%h -Q {queues}",
            env=env,
        )
        beat_file = os.path.join(settings.VAR_DIR, "celerybeat-schedule")
        manager.add_process("beat", f"{py} -m celery -A celery_worker beat -l INFO -s {beat_file}", env=env)
        probe_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        base = f"http://{probe_host}:{port}"
        self.stdout.write(self.style.SUCCESS("\nStarting the customer-service system (web, worker, beat) …"))
        stop = threading.Event()
        threading.Thread(target=self.banner_when_ready, args=(base, stop), daemon=True).start()
        try:
            manager.loop()
        finally:
            stop.set()
        sys.exit(manager.returncode)

    def banner_when_ready(self, base: str, stop: threading.Event, timeout: float = 180.0) -> None:
        """The URLs are printed once the web server answers, not while it is still starting."""
        started = time.monotonic()
        while not stop.is_set():
            if server_answers(f"{base}/accounts/login/"):
                self.stdout.write(banner(base, seconds=time.monotonic() - started))
                return
            if time.monotonic() - started > timeout:
                self.stderr.write(
                    f"The web server did not answer on {base} within {int(timeout)} s; see its log above."
                )
                return
            stop.wait(0.25)


def server_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def banner(base: str, *, seconds: float) -> str:
    lines = [
        "",
        f"Ready after {seconds:.1f} s:",
        f"  log in (every role)    {base}/",
        f"  agent workbench        {base}/workbench/",
        f"  supervisor centre      {base}/supervisor/",
        f"  management centre      {base}/manage/",
        f"  visitor widget demo    {base}/widget/demo/",
        f"  API docs               {base}/api/docs/",
        f"  health                 {base}/healthz",
    ]
    from apps.core.management.commands.seed_demo import DEMO_PASSWORD, PEOPLE
    from apps.tenants.models import Tenant

    if Tenant.objects.filter(slug="demo").exists():
        logins = ", ".join(p[0] for p in PEOPLE)
        lines.append(f"  demo logins           {logins}, operator (password {DEMO_PASSWORD})")
    lines += ["  Ctrl-C stops everything.", ""]
    return "\n".join(lines)
