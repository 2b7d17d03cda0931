"""WeChat Customer Service (微信客服) writes: the cursor pull, session states, inbound content, replies.

The pull is the only way messages arrive, so it carries the "nothing lost, nothing twice" promise:
- the cursor lives in the database (SyncCursor) and moves forward only by a compare-and-swap in
  the transaction that stores the page it read: a crash before that commit re-reads the page, a
  pull that lost the race rolls back and reads on from where the winner stopped;
- every pulled message is an InboundMessage unique per (channel, msgid): a page read twice
  stores nothing new;
- callbacks that arrive during a pull are not dropped: they bump a counter and the running
  pull reads again before it lets go (one reader per channel at a time, by a Redis lease).
Network calls happen outside transactions and row locks.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext
from wechatpy.exceptions import WeChatClientException

from apps.channels import wecom
from apps.channels.models import Channel, ChannelKind, DeliveryStatus, InboundMessage, OutboundDelivery, SyncCursor

if TYPE_CHECKING:
    from apps.channels.services import Processed

logger = logging.getLogger(__name__)

PULL_LIMIT = 1000  # sync_msg's default and maximum page size
MAX_PAGES_PER_PULL = 50  # a bound on one task; the next callback (or the sweep) continues
LEASE_SECONDS = 300
CALLBACK_TOKEN_SECONDS = 9 * 60  # WeCom's callback Token is valid 10 minutes
ERR_INVALID_TOKEN = 95007  # the callback Token expired: read on without it
IDENTITY_KIND = "wecom_kf"
MEDIA_KINDS = {"image", "voice", "video", "file"}


def _keys(channel_id: int) -> tuple[str, str, str]:
    return f"kf:wecom:lease:{channel_id}", f"kf:wecom:wanted:{channel_id}", f"kf:wecom:token:{channel_id}"


# --- which channel an event is for ----------------------------------------------------------------


def channel_for_account(*, channel: Channel, open_kfid: str) -> Channel | None:
    """The channel serving customer-service account `open_kfid`.

    A WeCom corp has one callback URL for all its accounts, so the event may name a sibling
    channel's account (same tenant, same CorpID), each sibling scoped to its own branch.
    """
    if channel.cfg("open_kfid") == open_kfid:
        return channel
    corp_id = channel.cfg("corp_id")
    for sibling in Channel.objects.filter(tenant_id=channel.tenant_id, kind=ChannelKind.WECOM_KF, is_enabled=True):
        if sibling.cfg("corp_id") == corp_id and sibling.cfg("open_kfid") == open_kfid:
            return sibling
    return None


# --- the pull -------------------------------------------------------------------------------------


def pull_request(*, channel_id: int, token: str = "") -> None:
    """A callback said there is news: note it (and its Token) and enqueue a pull after commit."""
    from apps.channels import tasks

    _lease, wanted, token_key = _keys(channel_id)
    if token:
        cache.set(token_key, token[:128], timeout=CALLBACK_TOKEN_SECONDS)
    cache.add(wanted, 0, timeout=None)
    cache.incr(wanted)
    transaction.on_commit(lambda: tasks.wecom_pull.delay(channel_id))


def pull(*, channel_id: int) -> int:
    """Read everything new for one channel; returns how many messages were stored.

    Safe to run any number of times and concurrently: one reader holds the lease; the others
    return at once, and the reader goes round again when the `wanted` counter moved meanwhile.
    """
    lease, wanted, _token = _keys(channel_id)
    taken = 0
    while True:
        owner = uuid.uuid4().hex
        if not cache.add(lease, owner, timeout=LEASE_SECONDS):
            return taken  # someone is reading; they will see the counter we (or our caller) moved
        try:
            while True:
                seen = cache.get(wanted) or 0
                taken += _pull_pages(channel_id)
                if (cache.get(wanted) or 0) == seen:
                    break
        finally:
            if cache.get(lease) == owner:
                cache.delete(lease)
        # A callback between our last look and letting go could not take the lease: look again.
        if (cache.get(wanted) or 0) == seen:
            return taken


class _CursorMoved(Exception):
    pass


def _pull_pages(channel_id: int) -> int:
    channel = Channel.objects.filter(pk=channel_id, kind=ChannelKind.WECOM_KF, is_enabled=True).first()
    if channel is None:
        return 0
    client = wecom.client_for(channel)
    token = cache.get(_keys(channel_id)[2]) or ""
    taken = 0
    for _page in range(MAX_PAGES_PER_PULL):
        row, _created = SyncCursor.objects.get_or_create(channel=channel, defaults={"tenant_id": channel.tenant_id})
        try:
            result = client.kf.sync_msg(
                cursor=row.cursor, token=token, open_kfid=channel.cfg("open_kfid"), limit=PULL_LIMIT
            )
        except WeChatClientException as exc:
            if token and exc.errcode == ERR_INVALID_TOKEN:
                token = ""
                continue
            raise
        messages = [m for m in result.get("msg_list") or [] if isinstance(m, dict) and m.get("msgid")]
        names = _nicknames(channel, client, messages)
        try:
            stored = _store_page(channel, row, result, messages, names)
        except _CursorMoved:
            continue  # another pull stored this page (and maybe more): read on from its cursor
        # In order, after commit, in this task: a batch of one customer's messages keeps its order.
        for inbound_id in stored:
            process_pulled(inbound_id=inbound_id)
        taken += len(stored)
        if not result.get("has_more"):
            break
    return taken


def _store_page(channel: Channel, row: SyncCursor, result: dict, messages: list[dict], names: dict) -> list[int]:
    from apps.channels.services import inbound_record

    stored: list[int] = []
    with transaction.atomic():
        moved = SyncCursor.objects.filter(pk=row.pk, version=row.version).update(
            cursor=str(result.get("next_cursor") or row.cursor)[:128],
            version=F("version") + 1,
            messages_taken=F("messages_taken") + len(messages),
            pulled_at=timezone.now(),
        )
        if not moved:
            raise _CursorMoved
        for msg in messages:
            kind, payload = inbound_fields(msg)
            sender = str(msg.get("external_userid") or (msg.get("event") or {}).get("external_userid") or "")
            if sender in names:
                payload["user_name"] = names[sender]
            recorded = inbound_record(
                channel=channel,
                external_id=str(msg["msgid"]),
                sender_id=sender,
                kind=kind,
                payload=payload,
                enqueue=False,
            )
            if recorded.created:
                stored.append(recorded.inbound.pk)
    return stored


def _nicknames(channel: Channel, client, messages: list[dict]) -> dict[str, str]:
    """WeChat nicknames of customers we have not met yet (kf/customer/batchget, 100 at a time)."""
    from apps.customers.models import CustomerIdentity

    ids = {str(m["external_userid"]) for m in messages if m.get("origin") == wecom.ORIGIN_CUSTOMER}
    ids.discard("")
    if not ids:
        return {}
    known = set(
        CustomerIdentity.objects.filter(tenant_id=channel.tenant_id, kind=IDENTITY_KIND, value__in=ids).values_list(
            "value", flat=True
        )
    )
    missing = sorted(ids - known)[:100]
    if not missing:
        return {}
    try:
        result = client.kf.customer_batchget(missing)
    except Exception as exc:  # noqa: BLE001 - a name is a nicety: the message must still arrive
        logger.info("wecom customer/batchget for channel %s failed: %r", channel.pk, exc)
        return {}
    return {
        str(c.get("external_userid")): str(c.get("nickname") or "")[:100]
        for c in result.get("customer_list") or []
        if isinstance(c, dict) and c.get("nickname")
    }


def inbound_fields(msg: dict) -> tuple[str, dict]:
    """(kind, payload) to store for one sync_msg entry."""
    msgtype = str(msg.get("msgtype") or "")
    raw = msg.get(msgtype)
    body: dict = raw if isinstance(raw, dict) else {}
    if msgtype == "event":
        kind = f"event:{body.get('event_type', '')}"
    else:
        kind = msgtype
    payload = {
        "origin": msg.get("origin"),
        "send_time": msg.get("send_time"),
        "open_kfid": msg.get("open_kfid") or body.get("open_kfid") or "",
        "body": body,
    }
    if msg.get("servicer_userid"):
        payload["servicer_userid"] = str(msg["servicer_userid"])
    return kind[:40], payload


def process_pulled(*, inbound_id: int) -> None:
    """Turn one pulled row into a message, then do the platform's part outside any lock."""
    from apps.channels.services import inbound_process

    after_process(inbound_process(inbound_id=inbound_id))


def after_process(processed: Processed) -> None:
    """WeCom's part once a row is processed: claim a new session, send the welcome message."""
    inbound = processed.inbound
    if processed.conversation_created and inbound.conversation_id:
        session_claim(conversation_id=inbound.conversation_id)
    if inbound.kind == "event:enter_session" and processed.processed_now:
        _welcome(inbound)


# --- inbound content -----------------------------------------------------------------------------


@dataclass
class Content:
    content_type: str
    body: str
    payload: dict
    sender_kind: str = "visitor"
    visibility: str = "all"


def _menu_choice(conversation, menu_id: str) -> dict:
    """The button payload behind a menu item the customer tapped ("<message id>.<index>")."""
    from apps.messaging.models import Message

    message_id, _dot, index = (menu_id or "").partition(".")
    if not (message_id.isdigit() and index.isdigit()):
        return {}
    message = Message.objects.filter(pk=int(message_id), conversation_id=conversation.pk).first()
    buttons = (message.payload or {}).get("buttons") if message is not None else None
    if not isinstance(buttons, list) or int(index) >= len(buttons):
        return {}
    choice = buttons[int(index)].get("payload") if isinstance(buttons[int(index)], dict) else None
    return choice if isinstance(choice, dict) else {}


def inbound_content(inbound: InboundMessage, conversation) -> Content | None:
    p = inbound.payload
    body = p.get("body") if isinstance(p.get("body"), dict) else {}
    base = {"source": "wecom_kf"}
    kind = inbound.kind
    if p.get("origin") == wecom.ORIGIN_SERVICER:
        # A servicer answered from the WeCom app: staff should see it, the customer already has it.
        text = body.get("content") or gettext("[%(kind)s]") % {"kind": kind}
        return Content(
            "system",
            gettext("WeCom servicer %(who)s replied in the WeCom app: %(text)s")
            % {"who": p.get("servicer_userid", ""), "text": text},
            {**base, "code": "wecom_servicer_message"},
            sender_kind="system",
            visibility="staff",
        )
    if kind == "text":
        payload = dict(base)
        if body.get("menu_id"):
            payload.update(_menu_choice(conversation, str(body["menu_id"])))
            payload["menu_id"] = str(body["menu_id"])[:128]
        return Content("text", str(body.get("content") or ""), payload)
    if kind == "image":
        return Content("image", "", {**base, "media_id": body.get("media_id", "")})
    if kind in ("voice", "video", "file"):
        names = {"voice": gettext("Voice message"), "video": gettext("Video"), "file": gettext("File")}
        return Content("file", "", {**base, "kind": kind, "media_id": body.get("media_id", ""), "name": names[kind]})
    if kind == "location":
        label = " ".join(str(body.get(k) or "") for k in ("name", "address")).strip()
        return Content(
            "text",
            gettext("[Location] %(label)s") % {"label": label},
            {**base, "x": body.get("latitude"), "y": body.get("longitude"), "label": label},
        )
    if kind == "link":
        return Content(
            "text", f"{body.get('title', '')} {body.get('url', '')}".strip(), {**base, "url": body.get("url", "")}
        )
    if kind == "miniprogram":
        card = {k: str(body.get(k) or "") for k in ("title", "appid", "pagepath")}
        return Content("text", gettext("[Mini-program] %(title)s") % {"title": card["title"]}, {**base, "card": card})
    if kind == "business_card":
        return Content("text", gettext("[Contact card] %(id)s") % {"id": body.get("userid", "")}, base)
    if kind == "channels":
        return Content("text", gettext("[WeChat Channels] %(title)s") % {"title": body.get("title", "")}, base)
    return None


def inbound_event(inbound: InboundMessage, customer) -> str:
    """Events carry no conversation message of their own. Returns the inbound status to record."""
    from apps.channels.services import staff_notice
    from apps.conversations.models import Conversation
    from apps.customers.models import Customer

    body = inbound.payload.get("body") or {}
    event = inbound.kind.partition(":")[2]
    if event == "enter_session":
        attrs = {**customer.attributes, "wecom_scene": str(body.get("scene") or "")[:64]}
        if body.get("scene_param"):
            attrs["wecom_scene_param"] = str(body["scene_param"])[:128]
        Customer.objects.filter(pk=customer.pk).update(attributes=attrs)
        return "done"
    if event == "msg_send_fail":
        fail_msgid = str(body.get("fail_msgid") or "")
        if fail_msgid.startswith("kf") and fail_msgid[2:].isdigit():
            delivery = (
                OutboundDelivery.objects.select_for_update()
                .select_related("message")
                .filter(pk=int(fail_msgid[2:]), tenant_id=inbound.tenant_id)
                .first()
            )
            if delivery is not None and delivery.status != DeliveryStatus.FAILED:
                delivery.status = DeliveryStatus.FAILED
                delivery.last_error = f"msg_send_fail type {body.get('fail_type')}"[:300]
                delivery.save(update_fields=["status", "last_error"])
                staff_notice(
                    conversation_id=delivery.message.conversation_id,
                    code="delivery_failed",
                    body=gettext("Not delivered: WeChat did not deliver message #%(seq)s (the customer may refuse it).")
                    % {"seq": delivery.message.seq},
                )
                return "done"
        return "ignored"
    if event == "session_status_change":
        open_conversation = Conversation.objects.filter(
            open_key=Conversation.make_open_key(inbound.channel_id, customer.pk)
        ).first()
        change = body.get("change_type")
        if open_conversation is None or change not in (1, 2, 3):
            return "ignored"
        if change == 3:
            text = gettext("The session was ended in WeCom: the customer has to write again before we can reply.")
        else:
            text = gettext(
                "A WeCom servicer (%(who)s) took this customer in the WeCom app: replies sent from here "
                "are not delivered while they serve."
            ) % {"who": body.get("new_servicer_userid", "")}
        staff_notice(conversation_id=open_conversation.pk, code="wecom_session_changed", body=text)
        return "done"
    return "ignored"


# --- session states and the welcome message --------------------------------------------------------


def session_claim(*, conversation_id: int) -> int | None:
    """Make sure the API may answer this customer: a new session (0, 未处理) is taken as
    "由智能助手接待" (1). Returns the state seen, or None when WeCom could not be asked.

    A session WeCom queued (2) or a servicer holds (3) is left alone and the agent is told.
    """
    from apps.channels.services import staff_notice
    from apps.conversations.models import Conversation

    conversation = Conversation.objects.select_related("channel").filter(pk=conversation_id).first()
    if conversation is None:
        return None
    target = _session_target(conversation)
    if target is None:
        return None
    client, open_kfid, external_userid = target
    try:
        state = int(client.kf.service_state_get(open_kfid=open_kfid, external_userid=external_userid)["service_state"])
        if state == wecom.STATE_NEW:
            client.kf.service_state_trans(
                open_kfid=open_kfid, external_userid=external_userid, service_state=wecom.STATE_BOT
            )
            state = wecom.STATE_BOT
    except Exception as exc:  # noqa: BLE001 - retried on the next send that WeCom refuses
        logger.warning("wecom session claim for conversation %s failed: %r", conversation_id, exc)
        return None
    if state in (wecom.STATE_POOL, wecom.STATE_HUMAN):
        with translation.override(settings.LANGUAGE_CODE):
            staff_notice(
                conversation_id=conversation.pk,
                code="wecom_session_elsewhere",
                body=gettext(
                    "This customer's session is queued or served in the WeCom app: replies sent from here "
                    "are not delivered until it ends there."
                ),
            )
    return state


def session_end(*, conversation_id: int) -> int | None:
    """Our conversation closed: end the WeCom session we hold (1 → 4) so the customer's next
    message opens a new one. Sessions held in WeCom itself are left to it."""
    from apps.conversations.models import Conversation

    conversation = Conversation.objects.select_related("channel").filter(pk=conversation_id).first()
    if conversation is None:
        return None
    target = _session_target(conversation)
    if target is None:
        return None
    client, open_kfid, external_userid = target
    try:
        state = int(client.kf.service_state_get(open_kfid=open_kfid, external_userid=external_userid)["service_state"])
        if state in (wecom.STATE_NEW, wecom.STATE_BOT):
            client.kf.service_state_trans(
                open_kfid=open_kfid, external_userid=external_userid, service_state=wecom.STATE_ENDED
            )
            return wecom.STATE_ENDED
        return state
    except Exception as exc:  # noqa: BLE001 - WeCom ends idle sessions itself after 48 hours
        logger.warning("wecom session end for conversation %s failed: %r", conversation_id, exc)
        return None


def _session_target(conversation):
    from apps.customers.models import CustomerIdentity

    channel = conversation.channel
    if channel.kind != ChannelKind.WECOM_KF:
        return None
    external_userid = (
        CustomerIdentity.objects.filter(customer_id=conversation.customer_id, kind=IDENTITY_KIND)
        .values_list("value", flat=True)
        .first()
    )
    if not external_userid:
        return None
    return wecom.client_for(channel), channel.cfg("open_kfid"), external_userid


def _welcome(inbound: InboundMessage) -> None:
    """The channel's greeting as WeCom's welcome message (welcome_code: once, within 20 s)."""
    channel = inbound.channel
    code = (inbound.payload.get("body") or {}).get("welcome_code")
    if not code or not channel.greeting:
        return
    try:
        wecom.client_for(channel).kf.send_msg_on_event(
            code=str(code), msgtype="text", content={"content": channel.greeting}, msgid=f"welcome{inbound.pk}"
        )
    except Exception as exc:  # noqa: BLE001 - a missed greeting is not worth a retry after 20 s
        logger.info("wecom welcome for inbound %s failed: %r", inbound.pk, exc)


# --- replies --------------------------------------------------------------------------------------


def deliver(delivery: OutboundDelivery) -> str:
    """Send one agent/bot message with kf/send_msg. Returns the final status; raises
    RetryableDeliveryError for what may pass on a later attempt."""
    from apps.channels.services import RetryableDeliveryError, attachment_of, reply_limit_notice, staff_notice

    message = delivery.message
    conversation = message.conversation
    target = _session_target(conversation)
    if target is None:
        delivery.last_error = "customer has no external_userid"
        return DeliveryStatus.FAILED
    client, open_kfid, external_userid = target
    msgid = f"kf{delivery.pk}"

    def send():
        attachment = attachment_of(message)
        if message.content_type in ("image", "file") and attachment is not None:
            media_type = "image" if message.content_type == "image" else "file"
            with attachment.file.open("rb") as fh:
                media = client.media.upload(media_type, (attachment.original_name or f"{media_type}.bin", fh))
            return client.kf.send_msg(
                touser=external_userid,
                open_kfid=open_kfid,
                msgtype=media_type,
                content={"media_id": media["media_id"]},
                msgid=msgid,
            )
        buttons = [b for b in (message.payload or {}).get("buttons") or [] if isinstance(b, dict) and b.get("label")]
        if buttons:
            items = [
                {"type": "click", "click": {"id": f"{message.pk}.{i}", "content": str(b["label"])[:128]}}
                for i, b in enumerate(buttons[:10])
            ]
            return client.kf.send_msg(
                touser=external_userid,
                open_kfid=open_kfid,
                msgtype="msgmenu",
                content={"head_content": message.body[:1024], "list": items},
                msgid=msgid,
            )
        return client.kf.send_msg(
            touser=external_userid, open_kfid=open_kfid, msgtype="text", content={"content": message.body}, msgid=msgid
        )

    for attempt in (1, 2):
        try:
            send()
            return DeliveryStatus.SUCCEEDED
        except WeChatClientException as exc:
            if exc.errcode == wecom.ERR_QUOTA:
                reply_limit_notice(conversation_id=conversation.pk, code="reply_quota_used")
                delivery.last_error = f"{exc.errcode} reply quota used"
                return DeliveryStatus.SKIPPED
            if exc.errcode == wecom.ERR_SESSION_STATE and attempt == 1:
                state = session_claim(conversation_id=conversation.pk)
                if state in (wecom.STATE_NEW, wecom.STATE_BOT):
                    continue
                if state is not None:
                    staff_notice(
                        conversation_id=conversation.pk,
                        code="wecom_session_elsewhere",
                        body=gettext(
                            "Not delivered: this customer's session is queued or served in the WeCom app, "
                            "or has ended there."
                        ),
                    )
                    delivery.last_error = f"{exc.errcode} session state {state}"
                    return DeliveryStatus.SKIPPED
            raise RetryableDeliveryError(f"wecom error {exc.errcode}: {exc.errmsg}")
        except RetryableDeliveryError:
            raise
        except Exception as exc:  # noqa: BLE001 - network failures are retried
            raise RetryableDeliveryError(f"wecom request failed: {exc!r}")
    raise RetryableDeliveryError("wecom session state still invalid")
