# CustomerMerge now belongs to apps.customers (same table, same rows): state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_customermerge_moved"),
        ("reports", "0014_labels_for_people"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="CustomerMerge",
                ),
            ],
            database_operations=[],
        ),
    ]
