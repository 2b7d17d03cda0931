"""The dispatch screens of the back office save through the routing services: the calendar a
process remembers is forgotten on commit, settings changes are checked and audited."""

from __future__ import annotations

import datetime as dt

from apps.core.models import AuditEntry
from apps.routing import selectors
from apps.routing.models import Holiday, WorkingHours
from apps.tenants.time import tenant_tz

AT = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)


def test_working_hours_saved_in_the_back_office_apply_at_once(client, org_a, django_capture_on_commit_callbacks):
    tenant = org_a.tenant
    assert selectors.is_working_time(tenant=tenant, at=AT)  # no hours: always open (now remembered)
    local_day = AT.astimezone(tenant_tz(tenant))
    client.force_login(org_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(
            "/manage/routing/workinghours/add/",
            {"branch": "", "weekday": local_day.weekday(), "start": "00:00", "end": "00:01"},
        )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert not selectors.is_working_time(tenant=tenant, at=AT)
    entry = WorkingHours.objects.get(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/manage/routing/workinghours/{entry.pk}/delete/", {"post": "yes"})
    assert not WorkingHours.objects.filter(tenant=tenant).exists()
    assert selectors.is_working_time(tenant=tenant, at=AT)


def test_a_holiday_saved_in_the_back_office_closes_the_day_at_once(client, org_a, django_capture_on_commit_callbacks):
    tenant = org_a.tenant
    assert selectors.is_working_time(tenant=tenant, at=AT)
    client.force_login(org_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(
            "/manage/routing/holiday/add/",
            {"branch": "", "date": AT.astimezone(tenant_tz(tenant)).date().isoformat(), "name": "店庆"},
        )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert Holiday.objects.filter(tenant=tenant).count() == 1
    assert not selectors.is_working_time(tenant=tenant, at=AT)


def test_dispatch_settings_changed_in_the_back_office_are_audited_by_the_service(client, org_a):
    settings_ = selectors.dispatch_settings_get(tenant_id=org_a.tenant.pk, fresh=True)
    client.force_login(org_a.admin)
    url = f"/manage/routing/dispatchsettings/{settings_.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {name: value for name, value in data.items() if value is not False and value is not None}
    data["queue_cap"] = settings_.queue_cap + 7
    saved = client.post(url, data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    settings_.refresh_from_db()
    assert settings_.queue_cap == data["queue_cap"]
    (entry,) = AuditEntry.objects.filter(action="dispatch.settings", object_id=str(settings_.pk))
    assert entry.changes == {"queue_cap": [str(data["queue_cap"] - 7), str(data["queue_cap"])]}
