"""The bot's service hours move into the working hours (one calendar for the bot, dispatch and
service levels). A tenant whose company-wide working hours already exist keeps those (dispatch's
gate and the service-level clocks already count by them); otherwise the bot's hours become the
company's working hours, BotSettings' ISO weekdays (1 = Monday ... 7 = Sunday) turned into
WorkingHours' (0 = Monday ... 6 = Sunday), an empty day list meaning every day as before."""

from django.db import migrations


def bot_hours_to_working_hours(apps, schema_editor):
    BotSettings = apps.get_model("knowledge", "BotSettings")
    WorkingHours = apps.get_model("routing", "WorkingHours")
    rows = []
    for bot in BotSettings.objects.filter(service_start__isnull=False, service_end__isnull=False):
        if WorkingHours.objects.filter(tenant_id=bot.tenant_id, branch__isnull=True).exists():
            continue
        iso_days = {int(d) for d in bot.service_weekdays.split(",") if d.strip().isdigit() and 1 <= int(d) <= 7}
        for weekday in sorted(iso_days or range(1, 8)):
            rows.append(
                WorkingHours(
                    tenant_id=bot.tenant_id, branch=None, weekday=weekday - 1, start=bot.service_start, end=bot.service_end
                )
            )
    WorkingHours.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0005_labels_for_people"),
        ("routing", "0005_agentstatusevent_merged"),
    ]

    operations = [
        migrations.RunPython(bot_hours_to_working_hours, migrations.RunPython.noop),
        migrations.RemoveField(model_name="botsettings", name="service_end"),
        migrations.RemoveField(model_name="botsettings", name="service_start"),
        migrations.RemoveField(model_name="botsettings", name="service_weekdays"),
    ]
