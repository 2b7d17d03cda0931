"""WeChat Customer Service and mini-program channels in the back office: created per branch, their
secrets never shown again, the connection URL to paste into WeChat's consoles."""

from __future__ import annotations

import io

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.channels.models import Channel

ADD_URL = "/manage/kf_channels/channel/add/"


def _form(**overrides):
    return {"name": "渠道", "kind": "web", "branch": "", "is_enabled": "on", "greeting": "", **overrides}


def test_supervisor_creates_a_wechat_customer_service_channel_for_their_branch(client, org_a):
    client.force_login(org_a.sup_east)
    data = _form(
        name="上海微信客服",
        kind="wecom_kf",
        branch=org_a.sh.pk,
        cfg_corp_id="ww0123456789abcdef",
        cfg_secret="KF-SECRET-VALUE",
        cfg_token="CALLBACK-TOKEN-1",
        cfg_encoding_aes_key="b" * 43,
        cfg_open_kfid="wkSHANGHAI01",
        cfg_app_id="wxIGNORED",  # another kind's field: not stored
    )
    response = client.post(ADD_URL, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    channel = Channel.objects.get(name="上海微信客服")
    assert channel.branch_id == org_a.sh.pk and channel.tenant_id == org_a.tenant.pk
    assert channel.config == {
        "corp_id": "ww0123456789abcdef",
        "secret": "KF-SECRET-VALUE",
        "token": "CALLBACK-TOKEN-1",
        "encoding_aes_key": "b" * 43,
        "open_kfid": "wkSHANGHAI01",
    }
    page = client.get(f"/manage/kf_channels/channel/{channel.pk}/change/").content.decode()
    for secret in ("KF-SECRET-VALUE", "CALLBACK-TOKEN-1", "b" * 43):
        assert secret not in page
    assert f"/wecom-kf/{channel.key}/" in page and "wkSHANGHAI01" in page
    # Saved again without retyping: the secrets stay.
    data.update(greeting="您好")
    assert (
        client.post(f"/manage/kf_channels/channel/{channel.pk}/change/", data | {"cfg_secret": ""}).status_code == 302
    )
    channel.refresh_from_db()
    assert channel.config["secret"] == "KF-SECRET-VALUE" and channel.greeting == "您好"
    # Another branch's supervisor cannot see it.
    client.force_login(org_a.sup_south)
    assert client.get(f"/manage/kf_channels/channel/{channel.pk}/change/").status_code == 404


def test_wechat_customer_service_needs_every_setting(client, org_a):
    client.force_login(org_a.admin)
    response = client.post(
        ADD_URL, _form(kind="wecom_kf", cfg_corp_id="ww1", cfg_secret="s", cfg_token="t", cfg_encoding_aes_key="c" * 43)
    )
    assert response.status_code == 200 and "open_kfid" in response.content.decode()
    assert not Channel.objects.exists()


def test_mini_program_channel_with_cards_and_a_private_cover(client, org_a):
    client.force_login(org_a.admin)
    buf = io.BytesIO()
    Image.new("RGB", (520, 416), "white").save(buf, "PNG")
    data = _form(
        name="小程序客服",
        kind="miniprogram",
        branch=org_a.sh.pk,
        cfg_app_id="wxmini0001",
        cfg_app_secret="MINI-SECRET",
        cfg_token="mini-token",
        cards_text="查物流 | pages/track/index\n寄快递｜pages/send/index",
        card_thumb_upload=SimpleUploadedFile("cover.png", buf.getvalue(), content_type="image/png"),
    )
    assert client.post(ADD_URL, data).status_code == 302
    channel = Channel.objects.get(name="小程序客服")
    assert channel.config["cards"] == [
        {"title": "查物流", "pagepath": "pages/track/index"},
        {"title": "寄快递", "pagepath": "pages/send/index"},
    ]
    thumb = channel.config["card_thumb"]
    assert thumb.startswith("channel-assets/") and default_storage.exists(thumb)
    assert client.get(f"/media/{thumb}").status_code == 404  # never served
    page = client.get(f"/manage/kf_channels/channel/{channel.pk}/change/").content.decode()
    assert "MINI-SECRET" not in page and f"/wechat-mini/{channel.key}/" in page
    bad = client.post(ADD_URL, data | {"name": "坏卡片", "cards_text": "没有路径", "card_thumb_upload": ""})
    assert bad.status_code == 200 and not Channel.objects.filter(name="坏卡片").exists()


def test_admin_lists_the_corp_accounts_to_find_the_open_kfid(client, org_a, wecom):
    from apps.channels import services

    from .conftest import wecom_config

    channel = services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="微信客服",
        kind="wecom_kf",
        branch=org_a.sh,
        config=wecom_config(wecom.base_url),
    )
    client.force_login(org_a.admin)
    response = client.post(
        "/manage/kf_channels/channel/",
        {"action": "list_wecom_accounts", "_selected_action": [channel.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "顺丰上海客服" in page and "wkAJ2GCAAAtest0001" in page and "wkAJ2GCAAAtest0002" in page
    assert wecom.state.paths("kf/account/list")[0]["json"] == {"offset": 0, "limit": 100}
