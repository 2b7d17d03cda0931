"""Run the whole system in the foreground: embedded Redis (unless REDIS_URL is set), daphne
(HTTP + websockets), a Celery worker and Celery beat. Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start web + websockets (daphne), Celery worker and beat (and the embedded Redis)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("CELERY_CONCURRENCY", "2")))

    def handle(self, *args, port: int, host: str, concurrency: int, **options):
        from honcho.manager import Manager

        py = sys.executable
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
        env["PYTHONUNBUFFERED"] = "1"
        manager = Manager()
        if settings.EMBEDDED_REDIS:
            manager.add_process("redis", f"{py} -m apps.core.embedded_redis {settings.EMBEDDED_REDIS_SOCKET}", env=env)
        manager.add_process(
            "web", f"{py} -m daphne -b {host} -p {port} --proxy-headers config.asgi:application", env=env
        )
        manager.add_process(
            "worker", f"{py} -m celery -A celery_worker worker -l INFO -c {concurrency} -n worker@%h", env=env
        )
        beat_file = os.path.join(settings.VAR_DIR, "celerybeat-schedule")
        manager.add_process("beat", f"{py} -m celery -A celery_worker beat -l INFO -s {beat_file}", env=env)
        base = f"http://{host}:{port}"
        self.stdout.write(self.style.SUCCESS("\nStarting the customer-service system:"))
        self.stdout.write(f"  workbench / login      {base}/")
        self.stdout.write(f"  management centre      {base}/manage/")
        self.stdout.write(f"  visitor widget demo    {base}/widget/demo/")
        self.stdout.write(f"  API docs               {base}/api/docs/")
        self.stdout.write(f"  health                 {base}/healthz")
        self.stdout.write("  Ctrl-C stops everything.\n")
        manager.loop()
        sys.exit(manager.returncode)
