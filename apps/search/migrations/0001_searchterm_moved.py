# SearchTerm moves from apps.reports to apps.search with its table and rows (state only).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('reports', '0015_customermerge_moved'),
        ('conversations', '0004_conversation_load_released_conversation_remind_at_and_more'),
        ('tenants', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='SearchTerm',
                    fields=[
                        ('pk', models.CompositePrimaryKey('tenant_id', 'term', 'created_at', 'conversation_id', blank=True, editable=False, primary_key=True, serialize=False)),
                        ('term', models.BigIntegerField()),
                        ('created_at', models.DateTimeField()),
                        ('conversation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='conversations.conversation')),
                        ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant')),
                    ],
                    options={
                        'verbose_name': 'search term',
                        'verbose_name_plural': 'search terms',
                        'db_table': 'reports_searchterm',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
