# AgentStatusLog moves from apps.reports to apps.accounts with its table and rows (state only).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("reports", "0012_followup_manual"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AgentStatusLog",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("branch_id_at_time", models.IntegerField(default=0)),
                        ("previous", models.CharField(blank=True, max_length=20)),
                        ("status", models.CharField(max_length=20)),
                        ("reason", models.CharField(blank=True, max_length=100)),
                        ("created_at", models.DateTimeField(db_index=True)),
                        (
                            "agent",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="tenants.tenant",
                                verbose_name="tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "reports_agentstatuslog",
                        "ordering": ["agent_id", "created_at", "id"],
                        "indexes": [models.Index(fields=["tenant", "agent", "created_at"], name="statuslog_agent_idx")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
