from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.knowledge import demo as kb_demo

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS_FILE = ROOT / "bench" / "data" / "kb_questions.json"


def load_questions() -> list[tuple[str, str | None]]:
    return [tuple(q) for q in json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))["questions"]]


class Kit:
    """A bot-enabled channel in org.sh, a customer, and helpers to talk through the real services."""

    def __init__(self, org, capture):
        from apps.channels.models import Channel
        from apps.customers.models import Customer

        self.org = org
        self.capture = capture
        self.channel = Channel.objects.create(tenant=org.tenant, name="web", bot_enabled=True, branch=org.sh)
        self.customer = Customer.objects.create(tenant=org.tenant, display_name="visitor")
        kb_demo.load_into_tenant(tenant_id=org.tenant.pk)

    def settings(self, **changes):
        from apps.knowledge.services import bot_settings_get

        settings = bot_settings_get(tenant_id=self.org.tenant.pk)
        for k, v in changes.items():
            setattr(settings, k, v)
        settings.save()
        return settings

    def start(self, customer=None):
        from apps.routing.intake import conversation_intake

        with self.capture(execute=True):
            return conversation_intake(channel=self.channel, customer=customer or self.customer)

    def say(self, conversation, body, *, payload=None, sender_kind="visitor", user=None):
        from apps.messaging.services import message_create

        with self.capture(execute=True):
            return message_create(
                conversation_id=conversation.pk, sender_kind=sender_kind, body=body, payload=payload, sender_user=user
            )

    def bot_messages(self, conversation):
        from apps.messaging.models import Message

        return list(Message.objects.filter(conversation_id=conversation.pk, sender_kind="bot").order_by("seq"))

    def last_bot(self, conversation):
        return self.bot_messages(conversation)[-1]

    def refresh(self, conversation):
        conversation.refresh_from_db()
        return conversation


@pytest.fixture
def kit(org_a, django_capture_on_commit_callbacks):
    return Kit(org_a, django_capture_on_commit_callbacks)


@pytest.fixture
def kit_b(org_b, django_capture_on_commit_callbacks):
    return Kit(org_b, django_capture_on_commit_callbacks)
