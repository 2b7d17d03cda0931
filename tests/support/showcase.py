"""A lived-in demo tenant for the page walks and the screenshots: `seed_demo`, then a few
conversations in every state built through the real services (bot, queued, active, closed and
rated, a dissatisfied rating with its follow-up, an export), so every staff page has rows to show.

Call `build()` from a test that uses `transactional_db` (the live server is another process) and
before a browser starts (publishing uses async_to_sync, which refuses to run beside a loop)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from django.core.management import call_command

_n = itertools.count()


@dataclass
class Showcase:
    tenant: object
    users: dict
    web: object
    conversations: dict = field(default_factory=dict)
    customers: dict = field(default_factory=dict)
    export: object = None

    def data_words(self) -> set[str]:
        """ASCII strings that are data, not interface: usernames, branch codes, channel keys,
        the tenant's slug and time zone. The walk may show these in any language."""
        from apps.accounts.models import Branch, User
        from apps.channels.models import Channel

        words = set(User.objects.values_list("username", flat=True))
        words |= set(Branch.objects.values_list("code", flat=True))
        words |= set(Channel.objects.values_list("key", flat=True))
        words |= {self.tenant.slug, self.tenant.timezone, *self.tenant.timezone.split("/")}
        return {w for w in words if w}


def _say(conversation, kind: str, body: str, user=None):
    from apps.messaging.services import message_create

    return message_create(
        conversation_id=conversation.pk,
        sender_kind=kind,
        sender_user=user,
        body=body,
        client_msg_id=f"showcase-{next(_n)}",
    )


def build() -> Showcase:
    from apps.accounts.models import User
    from apps.accounts.services import agent_set_status
    from apps.channels.models import Channel
    from apps.conversations import services as conv
    from apps.conversations.models import ConversationTag
    from apps.customers.models import Customer
    from apps.reports.exports import export_create
    from apps.routing.intake import conversation_intake
    from apps.tenants.models import Tenant

    call_command("seed_demo", quiet=True)
    tenant = Tenant.objects.get(slug="demo")
    users = {u.username: u for u in User.objects.filter(tenant=tenant)}
    web = Channel.objects.get(tenant=tenant, key="demo-web")
    partner = Channel.objects.get(tenant=tenant, key="demo-cainiao")
    show = Showcase(tenant=tenant, users=users, web=web)

    def customer(key, **fields):
        show.customers[key] = Customer.objects.create(tenant=tenant, **fields)
        return show.customers[key]

    # Busy: conversations are given to them by hand below, none by dispatch (the queued one waits).
    sh1 = agent_set_status(agent=users["agent_sh1"], status="busy", actor=users["agent_sh1"])

    # Served and closed, rated well.
    done = conversation_intake(channel=partner, customer=customer("li", display_name="李女士", phone="13800138000"))
    done = conv.conversation_assign(conversation_id=done.pk, agent_id=sh1.pk, require_online=False)
    _say(done, "visitor", "你好，我的快递三天了还没到，单号 SF1234567890")
    _say(done, "agent", "您好，我帮您查一下，请稍等。", sh1)
    _say(done, "agent", "已经到达浦东网点，今天下午派送。", sh1)
    _say(done, "visitor", "好的，谢谢！")
    tag = ConversationTag.objects.filter(tenant=tenant).first()
    conv.conversation_close(conversation_id=done.pk, actor=sh1, tag_ids=[tag.pk] if tag else None)
    conv.rating_submit(conversation_id=done.pk, customer=done.customer, score=5, comment="很快，满意")
    show.conversations["closed"] = done

    # Closed with a poor rating: a follow-up task for the branch's supervisor.
    poor = conversation_intake(channel=partner, customer=customer("wang", display_name="王先生"))
    poor = conv.conversation_assign(conversation_id=poor.pk, agent_id=sh1.pk, require_online=False)
    _say(poor, "visitor", "包裹破损了，怎么赔偿？")
    _say(poor, "agent", "非常抱歉，请提供照片，我们登记理赔。", sh1)
    conv.conversation_close(conversation_id=poor.pk, actor=sh1)
    conv.rating_submit(conversation_id=poor.pk, customer=poor.customer, score=1, comment="太慢了")
    show.conversations["poor"] = poor

    # Being served now.
    active = conversation_intake(channel=partner, customer=customer("zhao", display_name="赵先生", phone="13911112222"))
    active = conv.conversation_assign(conversation_id=active.pk, agent_id=sh1.pk, require_online=False)
    _say(active, "visitor", "请问明天能上门取件吗？")
    _say(active, "agent", "可以的，请告诉我取件地址。", sh1)
    _say(active, "visitor", "上海市浦东新区世纪大道 100 号")
    show.conversations["active"] = active

    # Waiting in the queue (nobody is online).
    queued = conversation_intake(channel=partner, customer=customer("sun", phone="13700001111"))
    show.conversations["queued"] = queued
    _say(queued, "visitor", "人工客服在吗？")

    # With the bot on the website.
    bot = conversation_intake(channel=web, customer=customer("guest"))
    _say(bot, "visitor", "运费怎么算？")
    show.conversations["bot"] = bot

    show.export = export_create(actor=users["sup_east"], filters={"text": "快递"}, format="csv")
    for c in show.conversations.values():
        c.refresh_from_db()
    return show
