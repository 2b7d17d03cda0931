"""@mentions in internal notes: the mentioned colleague is notified (only they), may view the
conversation from then on, the mention is audited, and a redelivered task changes nothing."""

from __future__ import annotations

import pytest

from apps.core.models import AuditEntry
from apps.messaging import mentions
from apps.messaging.models import Mention
from apps.messaging.selectors import conversation_get_for_agent
from apps.messaging.services import message_create

pytestmark = [pytest.mark.django_db]


def _note(conv, author, body):
    return message_create(
        conversation_id=conv.pk, sender_kind="agent", sender_user=author, body=body, visibility="staff"
    )


def test_a_note_mentions_by_name_grants_a_view_and_tells_only_the_colleague(
    im_a, org_a, org_b, monkeypatch, django_capture_on_commit_callbacks, api_client
):
    sent = []
    monkeypatch.setattr("apps.messaging.mentions.publish", lambda groups, event: sent.append((groups, event)))
    conv, _c, _t = im_a.conversation()
    org_a.agent_pd.display_name = "王小明"
    org_a.agent_pd.save(update_fields=["display_name"])
    org_a.agent_south.display_name = "王小"
    org_a.agent_south.save(update_fields=["display_name"])
    from apps.core.errors import NotFound

    with pytest.raises(NotFound):  # not theirs before the mention
        conversation_get_for_agent(user=org_a.agent_pd, conversation_id=conv.pk)
    with django_capture_on_commit_callbacks(execute=True):
        note = _note(conv, org_a.agent_sh, "@王小明 这个客户的运单请帮忙查一下 <b>急</b>")
    (mention,) = Mention.objects.all()
    assert (mention.user, mention.author, mention.conversation_id) == (org_a.agent_pd, org_a.agent_sh, conv.pk)
    # "@王小明" is not read as "@王小" (the longer name wins); org_b's people are never candidates.
    assert conversation_get_for_agent(user=org_a.agent_pd, conversation_id=conv.pk).pk == conv.pk
    ((groups, event),) = sent
    assert groups == f"t{org_a.tenant.pk}.agent.{org_a.agent_pd.pk}"
    assert event["type"] == "mention.created" and event["mention"]["excerpt"].endswith("<b>急</b>")
    assert AuditEntry.objects.filter(action="conversation.mention", actor=org_a.agent_sh).count() == 1
    # The task again (a broker redelivery): nothing new.
    assert mentions.mentions_process(message_id=note.pk) == []
    assert Mention.objects.count() == 1 and len(sent) == 1
    # A message to the customer with "@" mentions nobody; neither does a note naming no colleague.
    with django_capture_on_commit_callbacks(execute=True):
        message_create(conversation_id=conv.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="@王小明 你好")
        _note(conv, org_a.agent_sh, f"@{org_b.agent_sh.username} 看看")
    assert Mention.objects.count() == 1

    # The colleague's inbox: listed, marked read; another person's mention id is a 404.
    api_client.force_authenticate(org_a.agent_pd)
    inbox = api_client.get("/api/v1/im/mentions/").json()["results"]
    assert [m["id"] for m in inbox] == [mention.pk] and inbox[0]["author_name"] == "agent_sh"
    assert api_client.post(f"/api/v1/im/mentions/{mention.pk}/read/").status_code == 200
    assert api_client.get("/api/v1/im/mentions/").json()["results"] == []
    api_client.force_authenticate(org_b.agent_pd)
    assert api_client.post(f"/api/v1/im/mentions/{mention.pk}/read/").status_code == 404
    assert api_client.get("/api/v1/im/mentions/").json()["results"] == []
