"""Prepare data for bench/im_load.py and bench/im_idle.py: a tenant with N agents, a web channel,
N visitors with an open conversation each (assigned one-to-one), agent sessions and visitor tokens.

    manage.py im_bench_prepare --conversations 1000 --out var/bench/im.json

Bench data, written in bulk for speed: agents get an unusable password (they authenticate with
the session keys written to the output file) and conversations are assigned directly instead of
through dispatch, so every conversation has exactly one agent on the other end.
"""

from __future__ import annotations

import json
import time
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import AgentStatus, Role, User
from apps.accounts.services import branch_create
from apps.channels.models import Channel
from apps.conversations.models import Conversation, ConversationStatus, Participant, ParticipantKind
from apps.customers.services import customer_resolve_visitor
from apps.messaging.visitor import visitor_token_issue
from apps.routing.intake import conversation_intake
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Create agents, visitors and assigned conversations for the IM load benchmark."

    def add_arguments(self, parser):
        parser.add_argument("--conversations", type=int, default=200)
        parser.add_argument(
            "--visitors-only",
            type=int,
            default=0,
            help="extra visitors with a token but no conversation (idle-socket test)",
        )
        parser.add_argument("--origin", default="http://bench.local")
        parser.add_argument(
            "--supervisor", action="store_true", help="also a super admin with a session (reports, history)"
        )
        parser.add_argument("--out", default=str(Path(settings.VAR_DIR) / "bench" / "im.json"))

    def handle(self, *args, conversations: int, visitors_only: int, origin: str, out: str, supervisor: bool, **options):
        started = time.monotonic()
        slug = f"im-bench-{int(time.time())}"
        tenant = Tenant.objects.create(name=f"IM bench {slug}", slug=slug)
        branch = branch_create(tenant=tenant, name="Bench", code=f"{slug}-b")
        channel = Channel.objects.create(
            tenant=tenant, name="Bench web", kind="web", branch=branch, allowed_origins=[origin]
        )
        unusable = make_password(None)
        User.objects.bulk_create(
            [
                User(
                    tenant=tenant,
                    username=f"{slug}-agent-{i}",
                    password=unusable,
                    role=Role.AGENT,
                    branch=branch,
                    display_name=f"Agent {i}",
                    max_chats_cap=5,
                    max_chats=5,
                    status=AgentStatus.INVISIBLE,
                )
                for i in range(conversations)
            ],
            batch_size=500,
        )
        agents = list(User.objects.filter(tenant=tenant).order_by("id"))
        engine = import_module(settings.SESSION_ENGINE)
        backend = (
            settings.AUTHENTICATION_BACKENDS[0]
            if getattr(settings, "AUTHENTICATION_BACKENDS", None)
            else "django.contrib.auth.backends.ModelBackend"
        )

        def session_for(user) -> str:
            session = engine.SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = backend
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.save()
            return session.session_key

        agent_rows = [{"id": agent.pk, "session": session_for(agent)} for agent in agents]
        admin_row = None
        if supervisor:
            admin = User.objects.create(
                tenant=tenant,
                username=f"{slug}-admin",
                password=unusable,
                role=Role.SUPER_ADMIN,
                branch=branch,
                display_name="Bench admin",
            )
            admin_row = {"id": admin.pk, "session": session_for(admin)}
        pairs = []
        for i, agent in enumerate(agents):
            with transaction.atomic():
                customer, _vid = customer_resolve_visitor(tenant=tenant, visitor_id=f"{slug}-v{i:06d}")
                conversation = conversation_intake(channel=channel, customer=customer)
                Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.ACTIVE, assignee=agent)
                Participant.objects.get_or_create(
                    tenant=tenant, conversation=conversation, kind=ParticipantKind.AGENT, user=agent
                )
            token, _ = visitor_token_issue(tenant_id=tenant.pk, channel_id=channel.pk, customer_id=customer.pk)
            pairs.append(
                {"conversation_id": conversation.pk, "customer_id": customer.pk, "visitor_token": token, "agent": i}
            )
        idle = []
        for i in range(visitors_only):
            customer, _vid = customer_resolve_visitor(tenant=tenant, visitor_id=f"{slug}-idle{i:06d}")
            token, _ = visitor_token_issue(tenant_id=tenant.pk, channel_id=channel.pk, customer_id=customer.pk)
            idle.append(token)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(
            json.dumps(
                {
                    "tenant_id": tenant.pk,
                    "origin": origin,
                    "session_cookie_name": settings.SESSION_COOKIE_NAME,
                    "agents": agent_rows,
                    "supervisor": admin_row,
                    "pairs": pairs,
                    "idle_visitor_tokens": idle,
                }
            )
        )
        self.stdout.write(
            f"{len(pairs)} conversations, {len(idle)} idle visitors for tenant {tenant.pk} "
            f"in {time.monotonic() - started:.1f}s -> {out}"
        )
