"""Demo channels for `manage.py seed_demo`: the website widget, a WeChat account and the Cainiao partner."""

from __future__ import annotations

from typing import Any

from apps.channels.models import Channel, ChannelKind
from apps.core import demo

DEMO_TENANT_SLUG = "demo"  # seed_demo's tenant: the only one /widget/demo/ shows
DEMO_WEB_KEY = "demo-web"
DEMO_WECHAT_KEY = "demo-wechat"
DEMO_PARTNER_KEY = "demo-cainiao"


@demo.register
def demo_channels(*, tenant, branches) -> None:
    specs: list[dict[str, Any]] = [
        dict(
            key=DEMO_WEB_KEY,
            name="官网在线客服",
            kind=ChannelKind.WEB,
            branch=None,
            allowed_origins=["http://127.0.0.1:8000", "http://localhost:8000"],
            greeting="您好，我是演示快运在线客服，请问有什么可以帮您？",
            # The bot answers first (F2), asks for what it needs (F55) and hands over to people.
            bot_enabled=True,
            config={"prechat_fields": ["name", "phone"]},
        ),
        dict(
            key=DEMO_WECHAT_KEY,
            name="演示快运公众号",
            kind=ChannelKind.WECHAT,
            branch=None,
            greeting="感谢关注演示快运！直接发送消息即可联系人工客服。",
            config={
                "app_id": "wxdemo0000000001",
                "app_secret": "demo-secret-change-me",
                "token": "demotoken2026",
                "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                "original_id": "gh_demo000001",
            },
        ),
        dict(
            key=DEMO_PARTNER_KEY,
            name="菜鸟",
            kind=ChannelKind.PARTNER,
            branch=branches.get("SH"),
            greeting="",
            config={"api_key": "cainiao-demo-key", "api_secret": "cainiao-demo-secret-2026", "webhook_url": ""},
        ),
    ]
    for spec in specs:
        key = spec.pop("key")
        Channel.objects.get_or_create(key=key, defaults={"tenant": tenant, **spec})
    # Demo databases seeded before the bot answered first on the website get it now.
    Channel.objects.filter(key=DEMO_WEB_KEY, tenant=tenant).update(bot_enabled=True)
