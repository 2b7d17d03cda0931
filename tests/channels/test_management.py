"""Channel management in the back office (F44, G4): scoped by tenant and branch, credentials, on/off."""

from __future__ import annotations

import pytest

from apps.channels import services
from apps.channels.models import Channel, ChannelKind
from apps.core.errors import ApplicationError
from apps.core.models import AuditEntry

ADD_URL = "/manage/kf_channels/channel/add/"


def _form(**overrides):
    data = {
        "name": "杭州官网",
        "kind": "web",
        "branch": "",
        "is_enabled": "on",
        "greeting": "您好",
        "allowed_origins_text": "https://www.example.com\nhttp://localhost:3000/",
        **{
            f"cfg_{k}": ""
            for k in (
                "app_id",
                "app_secret",
                "token",
                "encoding_aes_key",
                "original_id",
                "api_base_url",
                "api_key",
                "api_secret",
                "webhook_url",
                "app_key",
            )
        },
    }
    data.update(overrides)
    return data


@pytest.mark.smoke
def test_supervisor_creates_a_channel_for_a_branch_in_their_subtree(client, org_a):
    client.force_login(org_a.sup_east)
    response = client.post(ADD_URL, _form(branch=org_a.sh.pk))
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get(name="杭州官网")
    assert channel.tenant_id == org_a.tenant.pk and channel.branch_id == org_a.sh.pk
    assert channel.allowed_origins == ["https://www.example.com", "http://localhost:3000"]
    assert AuditEntry.objects.filter(action="admin.add", object_id=str(channel.pk)).exists()
    # The back office saves through the service, which writes its own audit entry.
    assert AuditEntry.objects.filter(action="channel.create", object_id=str(channel.pk)).exists()


def test_supervisor_cannot_create_outside_their_subtree_or_tenant_wide(client, org_a):
    client.force_login(org_a.sup_east)
    outside = client.post(ADD_URL, _form(branch=org_a.south.pk))
    tenant_wide = client.post(ADD_URL, _form())
    assert outside.status_code == 200 and tenant_wide.status_code == 200  # the form, with errors
    assert Channel.objects.count() == 0


def test_supervisor_sees_but_cannot_change_tenant_wide_or_other_branch_channels(client, org_a):
    wide = services.channel_create(tenant=org_a.tenant, actor=org_a.admin, name="总部官网", kind="web")
    south = services.channel_create(tenant=org_a.tenant, actor=org_a.admin, name="华南", kind="web", branch=org_a.south)
    mine = services.channel_create(tenant=org_a.tenant, actor=org_a.admin, name="上海", kind="web", branch=org_a.sh)
    client.force_login(org_a.sup_east)
    listing = client.get("/manage/kf_channels/channel/").content.decode()
    assert "总部官网" in listing and "上海" in listing and "华南" not in listing
    assert client.get(f"/manage/kf_channels/channel/{south.pk}/change/").status_code == 404
    client.post(f"/manage/kf_channels/channel/{wide.pk}/change/", _form(name="改名", branch=org_a.sh.pk))
    wide.refresh_from_db()
    assert wide.name == "总部官网" and wide.branch_id is None
    ok = client.post(f"/manage/kf_channels/channel/{mine.pk}/change/", _form(name="上海官网", branch=org_a.sh.pk))
    assert ok.status_code == 302
    mine.refresh_from_db()
    assert mine.name == "上海官网"
    (update,) = AuditEntry.objects.filter(action="channel.update", object_id=str(mine.pk))
    assert set(update.changes["fields"]) == {"name", "allowed_origins", "greeting"}


def test_other_tenant_channel_is_404_in_the_back_office(client, org_a, org_b):
    theirs = services.channel_create(tenant=org_b.tenant, actor=org_b.admin, name="B", kind="web")
    client.force_login(org_a.admin)
    assert client.get(f"/manage/kf_channels/channel/{theirs.pk}/change/").status_code == 404
    assert "B" not in [c.name for c in Channel.objects.visible_to(org_a.admin)]


def test_wechat_credentials_are_kept_and_secrets_never_shown(client, org_a):
    client.force_login(org_a.admin)
    data = _form(
        name="公众号",
        kind="wechat",
        allowed_origins_text="",
        cfg_app_id="wx123",
        cfg_app_secret="TOPSECRET",
        cfg_token="tok",
        cfg_encoding_aes_key="a" * 43,
    )
    assert client.post(ADD_URL, data).status_code == 302
    channel = Channel.objects.get(name="公众号")
    assert channel.config == {
        "app_id": "wx123",
        "app_secret": "TOPSECRET",
        "token": "tok",
        "encoding_aes_key": "a" * 43,
    }
    page = client.get(f"/manage/kf_channels/channel/{channel.pk}/change/").content.decode()
    assert "TOPSECRET" not in page and f"/wechat/{channel.key}/" in page
    # Saving without retyping the secret keeps it; the kind cannot change.
    data.update(cfg_app_secret="", kind="web", greeting="欢迎")
    assert client.post(f"/manage/kf_channels/channel/{channel.pk}/change/", data).status_code == 302
    channel.refresh_from_db()
    assert channel.config["app_secret"] == "TOPSECRET" and channel.kind == "wechat" and channel.greeting == "欢迎"


def test_bad_settings_are_refused_with_a_clear_message(client, org_a):
    client.force_login(org_a.admin)
    bad_key = client.post(
        ADD_URL, _form(name="x", kind="wechat", cfg_app_id="wx1", cfg_token="t", cfg_encoding_aes_key="short")
    )
    assert "43" in bad_key.content.decode()
    bad_origin = client.post(ADD_URL, _form(name="y", allowed_origins_text="javascript:alert(1)"))
    assert bad_origin.status_code == 200
    assert Channel.objects.count() == 0
    with pytest.raises(ApplicationError) as exc:
        services.channel_create(
            tenant=org_a.tenant, actor=org_a.admin, name="p", kind="partner", config={"api_key": "k"}
        )
    assert exc.value.code == "missing_setting"


def test_disable_and_enable_actions_are_audited(client, org_a):
    channel = services.channel_create(tenant=org_a.tenant, actor=org_a.admin, name="官网", kind="web")
    client.force_login(org_a.admin)
    client.post("/manage/kf_channels/channel/", {"action": "disable_channels", "_selected_action": [channel.pk]})
    channel.refresh_from_db()
    assert channel.is_enabled is False
    assert AuditEntry.objects.filter(action="channel.disable", object_id=str(channel.pk)).exists()
    client.post("/manage/kf_channels/channel/", {"action": "enable_channels", "_selected_action": [channel.pk]})
    channel.refresh_from_db()
    assert channel.is_enabled is True


def test_demo_channels_are_created_once(org_a):
    from django.core.management import call_command

    call_command("seed_demo", "--quiet")
    call_command("seed_demo", "--quiet")
    kinds = dict(Channel.objects.filter(key__startswith="demo-").values_list("key", "kind"))
    assert kinds == {
        "demo-web": ChannelKind.WEB,
        "demo-wechat": ChannelKind.WECHAT,
        "demo-cainiao": ChannelKind.PARTNER,
    }
    web = Channel.objects.get(key="demo-web")
    assert web.origin_allowed("http://127.0.0.1:8000") and web.origin_allowed("http://localhost:8000")
    assert Channel.objects.get(key="demo-cainiao").name == "菜鸟"


def test_message_hook_adds_no_query_for_web_conversations(org_a, django_assert_num_queries):
    """The outbound hook runs inside every message_create: after the first lookup of a channel's
    kind it costs nothing for website conversations."""
    from apps.customers.models import Customer
    from apps.messaging.services import message_create
    from apps.routing.intake import conversation_intake

    channel = services.channel_create(tenant=org_a.tenant, actor=org_a.admin, name="官网", kind="web")
    conversation = conversation_intake(channel=channel, customer=Customer.objects.create(tenant=org_a.tenant))
    first = message_create(conversation_id=conversation.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="1")
    with django_assert_num_queries(0):
        assert services.outbound_enqueue_for_message(conversation=conversation, message=first) is None


def test_identity_signing_secret_is_shown_to_super_admins_only(client, org_a):
    channel = services.channel_create(tenant=org_a.tenant, actor=org_a.admin, name="官网", kind="web", branch=org_a.sh)
    secret = org_a.tenant.identity_secret
    client.force_login(org_a.admin)
    page = client.get(f"/manage/kf_channels/channel/{channel.pk}/change/").content.decode()
    assert secret in page and "data-channel=" in page
    client.force_login(org_a.sup_east)
    page = client.get(f"/manage/kf_channels/channel/{channel.pk}/change/").content.decode()
    assert secret not in page and "data-channel=" in page


def test_widget_settings_are_edited_in_the_back_office(client, org_a):
    client.force_login(org_a.admin)
    data = _form(
        prechat_fields=["name", "phone"],
        offline_message="夜间请留言",
        rating_tags="快，好， 专业",
        theme_color="#c8102e",
    )
    assert client.post(ADD_URL, data).status_code == 302
    channel = Channel.objects.get(name="杭州官网")
    assert channel.config == {
        "prechat_fields": ["name", "phone"],
        "offline_message": "夜间请留言",
        "rating_tags": ["快", "好", "专业"],
        "theme_color": "#c8102e",
    }
    widget_config = client.get("/api/v1/widget/config/", {"channel": channel.key}).json()
    assert widget_config["rating_tags"] == ["快", "好", "专业"] and widget_config["theme_color"] == "#c8102e"
