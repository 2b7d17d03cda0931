"""Every conversation belongs to a branch: existing conversations of tenant-wide channels that no
routing rule sent to a branch get the branch of the agent who served them (their acceptance events
too, so reports count their history for that branch). See apps.conversations.services."""

from django.db import migrations

BATCH = 1000


def attribute(apps, schema_editor):
    Conversation = apps.get_model("conversations", "Conversation")
    ConversationEvent = apps.get_model("conversations", "ConversationEvent")
    User = apps.get_model("accounts", "User")
    branch_of = dict(User.objects.exclude(branch_id=None).values_list("pk", "branch_id"))
    # Acceptance events without a branch: the taking agent's branch (the best record of it we have).
    accepts = ConversationEvent.objects.filter(branch_id=None, to_status="active").exclude(agent_id=None)
    for pk, agent_id in accepts.values_list("pk", "agent_id").iterator(chunk_size=BATCH):
        if agent_id in branch_of:
            ConversationEvent.objects.filter(pk=pk).update(branch_id=branch_of[agent_id])
    todo = Conversation.objects.filter(branch_id=None).values_list("pk", "assignee_id", "flags")
    for pk, assignee_id, flags in todo.iterator(chunk_size=BATCH):
        branch_id = branch_of.get(assignee_id)
        if branch_id is None:
            last = (
                ConversationEvent.objects.filter(conversation_id=pk)
                .exclude(branch_id=None)
                .order_by("-created_at", "-id")
                .values_list("branch_id", flat=True)
                .first()
            )
            branch_id = last
        if branch_id is not None:
            flags = {**(flags or {}), "branch_from_agent": True}
            Conversation.objects.filter(pk=pk).update(branch_id=branch_id, flags=flags)


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0002_conversation_excluded_agents_and_more"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(attribute, migrations.RunPython.noop)]
