# QuickReply now belongs to apps.quickreplies (same table, same rows): state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("quickreplies", "0001_quickreply_moved"),
        ("workbench", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="quickreply",
                    name="branch",
                ),
                migrations.RemoveField(
                    model_name="quickreply",
                    name="owner",
                ),
                migrations.RemoveField(
                    model_name="quickreply",
                    name="tenant",
                ),
                migrations.DeleteModel(
                    name="TeamQuickReply",
                ),
                migrations.DeleteModel(
                    name="QuickReply",
                ),
            ],
            database_operations=[],
        ),
    ]
