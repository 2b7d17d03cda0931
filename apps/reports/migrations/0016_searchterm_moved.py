# SearchTerm now belongs to apps.search (same table, same rows): state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0001_searchterm_moved"),
        ("reports", "0015_customermerge_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="SearchTerm",
                ),
            ],
            database_operations=[],
        ),
    ]
