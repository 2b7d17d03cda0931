import pytest

from apps.conversations.models import ConversationEvent, ConversationStatus

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_new_conversation_goes_to_online_agent(dispatch):
    agent = dispatch.agent(dispatch.org.sh, cap=2)
    conv = dispatch.start()
    assert conv.status == ConversationStatus.ACTIVE
    assert conv.assignee_id == agent.pk
    kinds = list(ConversationEvent.objects.filter(conversation=conv).values_list("kind", flat=True))
    assert kinds == ["created", "assigned"]
