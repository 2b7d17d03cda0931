import json

import pytest
from django.core.management import call_command

from apps.conversations.models import Conversation
from apps.messaging.visitor import visitor_token_load

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_bench_prepare_writes_assigned_conversations_sessions_and_tokens(tmp_path):
    out = tmp_path / "im.json"
    call_command("im_bench_prepare", conversations=3, visitors_only=2, out=str(out))
    data = json.loads(out.read_text())
    assert len(data["pairs"]) == 3 and len(data["agents"]) == 3 and len(data["idle_visitor_tokens"]) == 2
    for pair in data["pairs"]:
        conversation = Conversation.objects.get(pk=pair["conversation_id"])
        assert conversation.assignee_id == data["agents"][pair["agent"]]["id"]
        assert visitor_token_load(pair["visitor_token"]).customer_id == conversation.customer_id


def test_bench_prepare_can_add_a_super_admin_session_for_reports(tmp_path):
    from django.contrib.sessions.models import Session

    from apps.accounts.models import Role, User

    out = tmp_path / "im.json"
    call_command("im_bench_prepare", conversations=1, supervisor=True, out=str(out))
    data = json.loads(out.read_text())
    admin = User.objects.get(pk=data["supervisor"]["id"])
    assert admin.role == Role.SUPER_ADMIN and admin.tenant_id == data["tenant_id"]
    assert Session.objects.get(pk=data["supervisor"]["session"]).get_decoded()["_auth_user_id"] == str(admin.pk)
    assert (
        data["pairs"][0]["customer_id"] == Conversation.objects.get(pk=data["pairs"][0]["conversation_id"]).customer_id
    )
