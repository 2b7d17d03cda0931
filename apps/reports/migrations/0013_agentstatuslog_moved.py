# AgentStatusLog now belongs to apps.accounts (same table, same rows): state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0012_followup_manual"),
        ("accounts", "0002_agentstatuslog_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AgentStatusLog")],
            database_operations=[],
        ),
    ]
