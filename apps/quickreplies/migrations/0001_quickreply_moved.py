# QuickReply moves from apps.workbench to apps.quickreplies with its table and rows (state only).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("workbench", "0001_initial"),
        ("accounts", "0003_agentstatuslog_actor"),
        ("tenants", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="QuickReply",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("category", models.CharField(blank=True, max_length=50, verbose_name="category")),
                        ("title", models.CharField(max_length=100, verbose_name="title")),
                        ("content", models.TextField(max_length=2000, verbose_name="content")),
                        ("shortcut", models.CharField(blank=True, max_length=30, verbose_name="shortcut")),
                        ("sort_order", models.PositiveSmallIntegerField(default=0, verbose_name="order")),
                        ("use_count", models.PositiveIntegerField(default=0, verbose_name="times used")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "branch",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="quick_replies",
                                to="accounts.branch",
                                verbose_name="branch",
                            ),
                        ),
                        (
                            "owner",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="quick_replies",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="owner",
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
                        "verbose_name": "quick reply",
                        "verbose_name_plural": "quick replies",
                        "db_table": "workbench_quickreply",
                        "ordering": ["sort_order", "-use_count", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="TeamQuickReply",
                    fields=[],
                    options={
                        "verbose_name": "team quick reply",
                        "verbose_name_plural": "team quick replies",
                        "proxy": True,
                        "indexes": [],
                        "constraints": [],
                    },
                    bases=("quickreplies.quickreply",),
                ),
                migrations.AddIndex(
                    model_name="quickreply",
                    index=models.Index(fields=["tenant", "owner"], name="quickreply_owner_idx"),
                ),
            ],
            database_operations=[],
        ),
    ]
