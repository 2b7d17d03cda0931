"""The websocket endpoints: /ws/agent/ (session login) and /ws/visitor/?token=... .

Consumers parse frames, check access through selectors, call one service and render. The
database is the source of truth: every connection keeps, per subscribed conversation, the last
seq it delivered; a live event that skips ahead triggers a replay of the gap from the database,
an event at or below it is a duplicate and is dropped. So each connection receives every
message of a subscribed conversation exactly once and in seq order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext as _

from apps.accounts import hooks as account_hooks
from apps.conversations import policy
from apps.conversations.models import Conversation
from apps.core.errors import ApplicationError
from apps.core.origins import request_origin, websocket_origin_ok
from apps.messaging import presence, protocol, selectors, services
from apps.messaging.dbthreads import im_db
from apps.messaging.groups import (
    agent_group,
    conversation_group,
    customer_group,
    tenant_staff_group,
    user_control_group,
)
from apps.messaging.models import ContentType, Message, SenderKind, Visibility
from apps.messaging.serializers import message_to_dict
from apps.messaging.visitor import visitor_token_load
from apps.messaging.writer import get_writer

if TYPE_CHECKING:
    from apps.routing.intake import Intake

logger = logging.getLogger(__name__)


# Thread-pool DB calls: not serialised through the one "thread sensitive" thread, so a busy
# server runs several sends in parallel (each worker thread keeps its own DB connection).
db = im_db


PRESENCE_REFRESH = 20.0
RETRY_AFTER_MS = 1000  # told to clients with a retryable error (the database is restarting, failing over)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _own_origin(scope) -> str | None:
    """The origin this websocket was opened to: wss -> https, ws -> http, and the Host header."""
    return request_origin(secure=scope.get("scheme") == "wss", host=_header(scope, b"host"))


def _frame_int(frame: dict, name: str, *, required: bool = True, default: int | None = None) -> int | None:
    value = frame.get(name, default)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApplicationError("invalid_frame", _("Field %(f)s must be an integer.") % {"f": name})
    return value


class BaseIMConsumer(AsyncWebsocketConsumer):
    role = ""
    extra_frames: tuple[str, ...] = ()

    # --- lifecycle -------------------------------------------------------------------------
    async def dispatch(self, message):
        # Channels' own dispatch first runs close_old_connections through sync_to_async before
        # every handler: a hop to the one thread-sensitive thread for every frame and every
        # wake-up, to tidy that thread's connections, which these consumers never use. Every DB
        # call here goes through database_sync_to_async, which closes stale connections itself
        # in the thread that makes it.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message):
        self.subs: dict[int, int] = {}  # conversation id -> last seq delivered on this socket
        # Access granted by the policy, per (conversation id, level). Trusted only while the
        # socket is in the conversation's group: every change of who may reach a conversation is
        # followed by a `kf.access` there (apps.messaging.publish.publish_conversation_event),
        # which drops the grant and re-checks.
        self.access: dict[tuple[int, str], Conversation] = {}
        rate, burst = protocol.frame_rate()
        self._rate, self._burst, self._tokens, self._tokens_at = rate, burst, burst, time.monotonic()
        self._presence_at = 0.0
        self.presence_key = None
        self.groups = []
        await super().websocket_connect(message)

    async def refuse(self, code: str) -> None:
        logger.info("websocket refused (%s) %s", code, self.scope.get("path"))
        await self.close(code=4403 if code != "unauthorized" else 4401)

    async def join(self, *groups: str) -> None:
        """Add this socket to the groups not joined yet (one Redis round trip per shard)."""
        new = [group for group in dict.fromkeys(groups) if group not in self.groups]
        if not new:
            return
        self.groups.extend(new)
        await self._add_to_groups(new)

    async def _add_to_groups(self, groups: list[str]) -> None:
        add_many = getattr(self.channel_layer, "group_add_many", None)
        failed: dict[str, BaseException]
        if add_many is not None:
            try:
                failed = await add_many(groups, self.channel_name)
            except Exception as exc:  # noqa: BLE001 - e.g. the channel layer's connection is gone
                failed = dict.fromkeys(groups, exc)
        else:  # another channel layer (the in-memory one of some tests)
            results = await asyncio.gather(
                *(self.channel_layer.group_add(group, self.channel_name) for group in groups), return_exceptions=True
            )
            failed = {g: r for g, r in zip(groups, results, strict=True) if isinstance(r, BaseException)}
        for group, error in failed.items():
            # The socket still works: frames are answered and replays come from the database;
            # only wake-ups of this group are missing until the shard is back, when the next
            # heartbeat adds the socket again (rejoin_groups) and replays what it missed.
            logger.warning("joining %s failed: %r", group, error)

    def _presence_refresh_sync(self) -> None:
        presence.connection_seen(self.presence_key, self.channel_name)

    async def disconnect(self, code):
        # (AsyncWebsocketConsumer has already left self.groups.)
        if self.presence_key:
            await db(presence.connection_gone)(self.presence_key, self.channel_name)

    # --- frames in ---------------------------------------------------------------------------
    async def send_frame(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False, separators=(",", ":")))

    async def send_error(self, code: str, message, *, ref=None, **extra) -> None:
        frame = {"type": "error", "code": code, "message": str(message), **extra}
        if ref is not None:
            frame["ref"] = ref
        await self.send_frame(frame)

    def _take_token(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._tokens_at) * self._rate)
        self._tokens_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None:
            return await self.send_error("invalid_json", _("Frames must be JSON text."))
        limit = protocol.max_frame_bytes()
        if len(text_data) > limit or len(text_data.encode("utf-8", "surrogatepass")) > limit:
            # Too large to parse: the ref is read without parsing, so the client can still match it.
            self._take_token()
            return await self.send_error(
                "frame_too_large",
                _("A frame can be at most %(n)d bytes.") % {"n": limit},
                ref=protocol.ref_without_parsing(text_data),
            )
        try:
            frame = protocol.parse_frame(text_data)
        except protocol.FrameError as exc:
            ref = protocol.ref_without_parsing(text_data)
            if not self._take_token():
                return await self.send_error("rate_limited", protocol.ERROR_CODES["rate_limited"], ref=ref)
            return await self.send_error(exc.code, exc.message, ref=ref)
        ref = frame.get("ref") if isinstance(frame, dict) else None
        if ref is not None and not (isinstance(ref, (str, int)) and not isinstance(ref, bool) and len(str(ref)) <= 64):
            return await self.send_error(
                "invalid_frame", _("ref must be a string or integer of at most 64 characters.")
            )
        if not self._take_token():
            return await self.send_error("rate_limited", protocol.ERROR_CODES["rate_limited"], ref=ref)
        if not isinstance(frame, dict):
            return await self.send_error("invalid_frame", _("A frame must be a JSON object."))
        ftype = frame.get("type")
        if ftype not in protocol.CLIENT_FRAMES_COMMON + self.extra_frames:
            return await self.send_error("unknown_type", protocol.ERROR_CODES["unknown_type"], ref=ref)
        if ftype != "ping" and self._presence_due():  # a ping refreshes it in its own database trip
            await db(self._presence_refresh_sync)()
        handler = getattr(self, "frame_" + ftype)
        try:
            await handler(frame, ref)
        except ApplicationError as exc:
            await self.send_error(exc.code, exc.message, ref=ref, **exc.extra)
        except (OperationalError, InterfaceError) as exc:
            # The database is unreachable (restart, failover): nothing was written, or the write
            # committed and a resend with the same client_msg_id returns it. Either way: retry.
            logger.warning("websocket frame %s: database unavailable: %s", ftype, exc)
            await self.send_error(
                "unavailable", protocol.ERROR_CODES["unavailable"], ref=ref, retry=True, retry_after_ms=RETRY_AFTER_MS
            )
        except Exception:  # noqa: BLE001 - the socket survives a bug; the log has it
            logger.exception("websocket frame %s failed", ftype)
            await self.send_error("internal_error", protocol.ERROR_CODES["internal_error"], ref=ref)

    async def frame_ping(self, frame, ref):
        # The heartbeat doubles as a catch-up: a wake-up lost in the channel layer (overflow,
        # expiry) is only noticed when a later message arrives; compare with the database here so
        # a lost last message is delivered within one heartbeat.
        await self.rejoin_groups()
        refresh = self._presence_due()
        if self.subs or refresh:
            heads = await db(self._ping_sync)(list(self.subs), refresh)
            for conversation_id, last_seq in heads:
                if conversation_id in self.subs and last_seq > self.subs[conversation_id]:
                    await self.replay(conversation_id, current_last_seq=last_seq)
        pong = {"type": "pong", "ts": int(time.time() * 1000)}
        if ref is not None:
            pong["ref"] = ref
        await self.send_frame(pong)

    async def rejoin_groups(self) -> None:
        """Add this socket to its groups again. A channel-layer shard that restarted has forgotten
        its groups; without this, sockets that stayed connected would get no wake-ups from it until
        they reconnect. Idempotent (a sorted-set add), one round trip per shard."""
        if self.groups:
            await self._add_to_groups(list(self.groups))

    async def frame_send(self, frame, ref):
        conversation = await self.conversation(frame.get("conversation_id"), level=policy.ACT)
        client_msg_id = frame.get("client_msg_id")
        body = frame.get("body", "")
        if client_msg_id is not None and not isinstance(client_msg_id, str):
            raise ApplicationError("invalid_frame", _("client_msg_id must be a string."))
        if not isinstance(body, str):
            raise ApplicationError("invalid_frame", _("body must be a string."))
        visibility = frame.get("visibility", Visibility.ALL)
        if visibility not in Visibility.values:
            raise ApplicationError("invalid_frame", _("Unknown visibility."))
        if visibility != Visibility.ALL and self.role != "agent":
            raise ApplicationError("forbidden", _("Only staff can write internal notes."), status=403)
        attachment_id = frame.get("attachment_id")
        content_type, payload = ContentType.TEXT, None
        if attachment_id is not None:
            _frame_int(frame, "attachment_id")
            content_type, payload = await db(self._attachment_fields)(conversation, attachment_id)
        # Group commit: this send shares one transaction with the others waiting now.
        sent = await get_writer().submit(
            services.SendRequest(
                conversation_id=conversation.pk,
                body=body,
                client_msg_id=client_msg_id,
                content_type=content_type,
                payload=payload,
                visibility=visibility,
                **self.sender(),
            )
        )
        message = sent.message
        ack = {
            "type": "ack",
            "conversation_id": conversation.pk,
            "id": message.pk,
            "seq": message.seq,
            "client_msg_id": message.client_msg_id,
            "duplicate": not sent.created,
            "created_at": message.created_at.isoformat(),
        }
        if ref is not None:
            ack["ref"] = ref
        await self.send_frame(ack)

    def _attachment_fields(self, conversation, attachment_id: int) -> tuple[str, dict]:
        from apps.messaging.attachments import attachment_message_fields

        return attachment_message_fields(conversation=conversation, attachment_id=attachment_id)

    async def frame_subscribe(self, frame, ref):
        conversation = await self.conversation(frame.get("conversation_id"), fresh=True)
        last_seq = _frame_int(frame, "last_seq", default=0)
        if last_seq < 0:
            raise ApplicationError("invalid_frame", _("last_seq must not be negative."))
        await self.subscribe(conversation, last_seq, ref=ref)

    frame_resume = frame_subscribe

    async def subscribe(self, conversation: Conversation, last_seq: int, *, ref=None) -> None:
        # Join first, then replay: events that arrive meanwhile wait in the queue (a consumer
        # handles one message at a time) and are then dropped or used by seq.
        await self.join(conversation_group(conversation.tenant_id, conversation.pk))
        self.subs[conversation.pk] = min(last_seq, conversation.last_seq)
        if last_seq > conversation.last_seq:
            # The client saw seqs this database does not have (restored to an earlier point, or a
            # failover that lost the last commits): new messages will reuse those seqs, so it must
            # drop what it holds above last_seq instead of taking them for repeats.
            await self.send_frame(
                {
                    "type": "resync",
                    "conversation_id": conversation.pk,
                    "from_seq": last_seq,
                    "last_seq": conversation.last_seq,
                    "reason": "ahead_of_server",
                }
            )
        await self.replay(conversation.pk, current_last_seq=conversation.last_seq)
        frame = {
            "type": "subscribed",
            "conversation_id": conversation.pk,
            "last_seq": self.subs[conversation.pk],
            "status": conversation.status,
        }
        if ref is not None:
            frame["ref"] = ref
        await self.send_frame(frame)

    async def replay(self, conversation_id: int, *, current_last_seq: int | None = None) -> None:
        """Send every message after the delivered seq from the database, in pages, in order."""
        delivered = self.subs[conversation_id]
        if current_last_seq is not None and current_last_seq - delivered > protocol.RESYNC_LIMIT:
            self.subs[conversation_id] = current_last_seq
            await self.send_frame(
                {
                    "type": "resync",
                    "conversation_id": conversation_id,
                    "from_seq": delivered,
                    "last_seq": current_last_seq,
                    "reason": "gap_too_large",
                }
            )
            return
        while True:
            rows = await db(self._page)(conversation_id, delivered)
            for row in rows:
                if self.may_see(row):
                    await self.send_frame(
                        {"type": "message.created", "conversation_id": conversation_id, "message": row}
                    )
                delivered = row["seq"]
                self.subs[conversation_id] = delivered
            if len(rows) < protocol.REPLAY_PAGE:
                return

    def _presence_due(self) -> bool:
        """Whether this connection's presence should be refreshed now (then it is counted as done)."""
        now = time.monotonic()
        if not self.presence_key or now - self._presence_at <= PRESENCE_REFRESH:
            return False
        self._presence_at = now
        return True

    def _ping_sync(self, conversation_ids: list[int], refresh_presence: bool) -> list[tuple[int, int]]:
        """A heartbeat's one trip to the thread pool: the presence refresh when due, the heads."""
        if refresh_presence:
            self._presence_refresh_sync()
        return self._heads(conversation_ids) if conversation_ids else []

    def _heads(self, conversation_ids: list[int]) -> list[tuple[int, int]]:
        return list(Conversation.objects.filter(pk__in=conversation_ids).values_list("pk", "last_seq"))

    def _page(self, conversation_id: int, after_seq: int) -> list[dict]:
        rows = (
            Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
            .select_related("sender_user")
            .order_by("seq")[: protocol.REPLAY_PAGE]
        )
        return [message_to_dict(m) for m in rows]

    async def frame_unsubscribe(self, frame, ref):
        conversation_id = _frame_int(frame, "conversation_id")
        self.subs.pop(conversation_id, None)
        group = next((g for g in self.groups if g.endswith(f".conv.{conversation_id}")), None)
        if group:
            self.groups.remove(group)
            await self.channel_layer.group_discard(group, self.channel_name)
        frame = {"type": "unsubscribed", "conversation_id": conversation_id}
        if ref is not None:
            frame["ref"] = ref
        await self.send_frame(frame)

    async def frame_typing(self, frame, ref):
        conversation = await self.conversation(frame.get("conversation_id"), level=policy.ACT)
        is_typing = frame.get("is_typing", True)
        if not isinstance(is_typing, bool):
            raise ApplicationError("invalid_frame", _("is_typing must be true or false."))
        kind, name = self.typing_identity()
        await db(services.typing_notify)(
            conversation=conversation, sender_kind=kind, sender_name=name, is_typing=is_typing
        )

    async def frame_read(self, frame, ref):
        conversation = await self.conversation(frame.get("conversation_id"), fresh=True)
        seq = _frame_int(frame, "seq")
        await db(services.read_mark)(conversation=conversation, seq=seq, **self.reader())

    # --- events out ---------------------------------------------------------------------------
    async def kf_event(self, message):
        event = message["event"]
        if event["type"] == "message.created":
            conversation_id = event["conversation_id"]
            delivered = self.subs.get(conversation_id)
            if delivered is None:
                return
            seq = event["message"]["seq"]
            if seq <= delivered:
                return  # already delivered (replay, or a duplicate wake-up)
            if seq > delivered + 1:
                await self.replay(conversation_id)  # a wake-up was lost or overtaken: the DB has it
                return
            self.subs[conversation_id] = seq
            if self.may_see(event["message"]):
                await self.send_frame(event)
            return
        if message.get("staff_only") and self.role != "agent":
            return  # the visitor's copy comes through the customer group
        # Each event reaches a socket through one group only (publish sends lifecycle events to
        # the audience's own groups, not to the conversation's), so nothing is de-duplicated here.
        event = self.filter_event(event)
        if event is not None:
            await self.send_frame(event)

    async def kf_access(self, message):
        """Who may reach a conversation changed (or this user's grants did): re-check."""

    async def drop_subscription(self, conversation_id: int, *, reason: str) -> None:
        self.subs.pop(conversation_id, None)
        for key in [k for k in self.access if k[0] == conversation_id]:
            del self.access[key]
        group = next((g for g in self.groups if g.endswith(f".conv.{conversation_id}")), None)
        if group:
            self.groups.remove(group)
            await self.channel_layer.group_discard(group, self.channel_name)
            await self.send_frame({"type": "unsubscribed", "conversation_id": conversation_id, "reason": reason})

    def may_see(self, message: dict) -> bool:
        return True

    def filter_event(self, event: dict) -> dict | None:
        return event

    # --- subclass API -----------------------------------------------------------------------
    async def conversation(self, conversation_id, *, fresh: bool = False, level: str = "view") -> Conversation:
        raise NotImplementedError

    def sender(self) -> dict:
        raise NotImplementedError

    def reader(self) -> dict:
        raise NotImplementedError

    def typing_identity(self) -> tuple[str, str]:
        raise NotImplementedError


class AgentConsumer(BaseIMConsumer):
    """Staff: agents, supervisors, admins, logged in with the session cookie."""

    role = "agent"
    extra_frames = protocol.CLIENT_FRAMES_AGENT

    async def frame_recall(self, frame, ref):
        # Recall my message (apps.messaging.recall): the notice reaches everyone as message.created.
        conversation = await self.conversation(frame.get("conversation_id"), fresh=True, level=policy.ACT)
        message_id = _frame_int(frame, "message_id")
        reply = await db(_recall_sync)(self.user, conversation, message_id)
        if ref is not None:
            reply["ref"] = ref
        await self.send_frame(reply)

    async def frame_viewing(self, frame, ref):
        # Collision detection (apps.messaging.collision): this person views / types in / holds a
        # draft of the conversation, or left it; the other staff on it are told.
        conversation = await self.conversation(frame.get("conversation_id"))
        state = frame.get("state", "viewing")
        if not isinstance(state, str):
            raise ApplicationError("invalid_frame", _("state must be a string."))
        viewers = await db(_viewing_sync)(self.user, conversation, self.channel_name, state)
        if state == "left":
            self.viewing.discard(conversation.pk)
        else:
            self.viewing.add(conversation.pk)
        if ref is not None:
            await self.send_frame(
                {"type": "viewers", "ref": ref, "conversation_id": conversation.pk, "viewers": viewers}
            )

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active or not user.tenant_id:
            return await self.refuse("unauthorized")
        if not websocket_origin_ok(self.scope):
            return await self.refuse("origin_not_allowed")
        self.user = user
        self.viewing: set[int] = set()  # conversations this socket reported as open (collision)
        self.presence_key = presence.agent_key(user.pk)
        await self.join(
            agent_group(user.tenant_id, user.pk),
            user_control_group(user.tenant_id, user.pk),
            tenant_staff_group(user.tenant_id),
        )
        await self.accept()
        open_assigned = await db(self._connect_sync)()
        # Live from now on; the client resumes each with its own last seq for the past.
        await self.join(*(conversation_group(c.tenant_id, c.pk) for c in open_assigned))
        for conversation in open_assigned:
            self.subs[conversation.pk] = conversation.last_seq
        await self.send_frame(
            {
                "type": "hello",
                "protocol": protocol.PROTOCOL_VERSION,
                "role": "agent",
                "user_id": user.pk,
                "heartbeat_seconds": protocol.HEARTBEAT_SECONDS,
                "max_frame_bytes": protocol.max_frame_bytes(),
                "conversations": [{"id": c.pk, "status": c.status, "last_seq": c.last_seq} for c in open_assigned],
            }
        )

    def _presence_refresh_sync(self) -> None:
        # Redis only. A connection that had stopped counting (a long pause past STALE_AFTER: the
        # dispatch sweep may have started the agent's grace period) counts as connecting again.
        if presence.connection_seen(self.presence_key, self.channel_name):
            account_hooks.run_connection_changed(self.user, channel_name=self.channel_name, connected=True)

    def _connect_sync(self) -> list[Conversation]:
        from apps.conversations.models import OPEN_STATUSES

        self._presence_at = time.monotonic()
        presence.connection_seen(self.presence_key, self.channel_name)
        # Dispatch's presence (an agent role): the row says when they connected (one UPDATE).
        account_hooks.run_connection_changed(self.user, channel_name=self.channel_name, connected=True)
        return list(
            Conversation.objects.filter(
                tenant_id=self.user.tenant_id, assignee_id=self.user.pk, status__in=OPEN_STATUSES
            ).order_by("id")
        )

    async def disconnect(self, code):
        user = getattr(self, "user", None)
        await super().disconnect(code)
        if user is not None:
            await db(account_hooks.run_connection_changed)(user, channel_name=self.channel_name, connected=False)
            if getattr(self, "viewing", None):
                await db(_viewing_gone_sync)(user, self.channel_name, list(self.viewing))

    async def conversation(self, conversation_id, *, fresh: bool = False, level: str = policy.VIEW) -> Conversation:
        """The access policy's answer for this user, level and conversation (a 404 outside it)."""
        if isinstance(conversation_id, bool) or not isinstance(conversation_id, int):
            raise ApplicationError("invalid_frame", _("Field %(f)s must be an integer.") % {"f": "conversation_id"})
        cached = self.access.get((conversation_id, level))
        if cached is not None and not fresh and conversation_id in self.subs:
            return cached
        conversation = await db(policy.check)(self.user, conversation_id, level)
        if conversation_id in self.subs:
            self.access[(conversation_id, level)] = conversation
        return conversation

    async def kf_access(self, message):
        if message.get("user"):
            return await self.recheck_user()
        conversation_id = message.get("conversation_id")
        for key in [k for k in self.access if k[0] == conversation_id]:
            del self.access[key]
        if conversation_id in self.subs and not await db(policy.allows)(self.user, conversation_id, policy.VIEW):
            await self.drop_subscription(conversation_id, reason="access_lost")

    async def recheck_user(self) -> None:
        """The account changed (disabled, role, branch): close the socket if it may no longer sign
        in, else re-check every conversation it follows against the new grants."""
        user = await db(self._fresh_user)()
        if user is None:
            logger.info("websocket of user %s closed: account disabled", self.user.pk)
            await self.close(code=4401)
            return
        self.user = user
        self.access.clear()
        if not self.subs:
            return
        allowed = set(await db(self._reachable)(list(self.subs)))
        for conversation_id in [c for c in self.subs if c not in allowed]:
            await self.drop_subscription(conversation_id, reason="access_lost")

    def _fresh_user(self):
        from apps.accounts.models import User

        user = User.objects.select_related("branch").filter(pk=self.user.pk).first()
        if user is None or not user.is_active or user.tenant_id != self.user.tenant_id:
            return None
        return user

    def _reachable(self, conversation_ids: list[int]) -> list[int]:
        return list(
            policy.conversations_for(self.user, policy.VIEW)
            .filter(pk__in=conversation_ids)
            .values_list("pk", flat=True)
        )

    def sender(self) -> dict:
        return {"sender_kind": services.staff_sender_kind(self.user), "sender_user": self.user}

    def reader(self) -> dict:
        return {"reader_kind": services.staff_sender_kind(self.user), "user": self.user}

    def typing_identity(self) -> tuple[str, str]:
        return services.staff_sender_kind(self.user), self.user.name

    def filter_event(self, event: dict) -> dict | None:
        if event["type"] == "conversation.assigned" and event.get("agent_id") == self.user.pk:
            conv = event.get("conversation") or {}
            if conv.get("id") and conv["id"] not in self.subs:
                # Newly assigned to me: live from its current seq (the client may resume for history).
                self.subs[conv["id"]] = conv.get("last_seq", 0)
                self._pending_join = conversation_group(self.user.tenant_id, conv["id"])
        return event

    async def kf_event(self, message):
        self._pending_join = None
        await super().kf_event(message)
        if self._pending_join:
            await self.join(self._pending_join)


def _viewing_sync(user, conversation: Conversation, channel_name: str, state: str) -> list[dict]:
    from apps.messaging import collision

    return collision.viewer_set(user=user, conversation=conversation, channel_name=channel_name, state=state)


def _viewing_gone_sync(user, channel_name: str, conversation_ids: list[int]) -> None:
    from apps.messaging import collision

    collision.viewer_gone(user=user, channel_name=channel_name, conversation_ids=conversation_ids)


def _recall_sync(user, conversation: Conversation, message_id: int) -> dict:
    from apps.messaging import recall

    message = recall.message_recall(actor=user, conversation=conversation, message_id=message_id)
    notice = getattr(message, "notice", None)
    return {
        "type": "recalled",
        "conversation_id": conversation.pk,
        "message_id": message.pk,
        "seq": message.seq,
        "notice_seq": notice.seq if notice is not None else None,
        "platform_recalled": not recall.platform_keeps_messages(conversation.channel.kind),
    }


class VisitorConsumer(BaseIMConsumer):
    """A visitor's widget or app, authenticated by the visitor token in the query string."""

    role = "visitor"
    extra_frames = protocol.CLIENT_FRAMES_VISITOR

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            self.visitor = visitor_token_load((query.get("token") or [None])[0])
        except ApplicationError as exc:
            return await self.refuse(exc.code)
        # One trip to the database for the channel, the presence record and the open conversations.
        refused, channel, open_conversations = await db(self._connect_sync)(_header(self.scope, b"origin"))
        if refused:
            return await self.refuse(refused)
        self.channel = channel
        await self.join(customer_group(self.visitor.tenant_id, self.visitor.customer_id))
        await self.accept()
        await self.send_frame(
            {
                "type": "hello",
                "protocol": protocol.PROTOCOL_VERSION,
                "role": "visitor",
                "customer_id": self.visitor.customer_id,
                "channel_id": channel.pk,
                "heartbeat_seconds": protocol.HEARTBEAT_SECONDS,
                "max_frame_bytes": protocol.max_frame_bytes(),
                "conversations": [{"id": c.pk, "status": c.status, "last_seq": c.last_seq} for c in open_conversations],
            }
        )

    def _connect_sync(self, origin: str | None) -> tuple[str | None, object, list[Conversation]]:
        """(refusal code or None, channel, open conversations); presence is recorded only for a
        connection that is let in."""
        from apps.channels.models import Channel
        from apps.conversations.models import OPEN_STATUSES

        channel = Channel.objects.filter(pk=self.visitor.channel_id, tenant_id=self.visitor.tenant_id).first()
        if channel is None or not channel.is_enabled:
            return "channel_disabled", channel, []
        if (channel.kind == "web" or origin is not None) and not channel.origin_allowed(
            origin, own_origin=_own_origin(self.scope)
        ):
            return "origin_not_allowed", channel, []
        self.presence_key = presence.visitor_key(self.visitor.customer_id)
        self._presence_at = time.monotonic()
        presence.connection_seen(self.presence_key, self.channel_name)
        conversations = list(
            selectors.conversations_for_visitor(visitor=self.visitor)
            .filter(channel_id=self.visitor.channel_id, status__in=OPEN_STATUSES)
            .order_by("id")
        )
        return None, channel, conversations

    async def frame_start(self, frame, ref):
        subject = frame.get("subject", "")
        if not isinstance(subject, str):
            raise ApplicationError("invalid_frame", _("subject must be a string."))
        intake = await db(self._start_sync)(subject[:200])
        conversation = intake.conversation
        self.access[(conversation.pk, policy.VIEW)] = conversation
        started = {
            "type": "started",
            "conversation_id": conversation.pk,
            "status": conversation.status,
            "created": intake.created,
            "last_seq": conversation.last_seq,
        }
        if ref is not None:
            started["ref"] = ref
        await self.send_frame(started)
        if conversation.pk not in self.subs:
            await self.subscribe(conversation, 0 if intake.created else conversation.last_seq)

    def _start_sync(self, subject: str) -> Intake:
        from apps.customers.models import Customer
        from apps.routing.intake import conversation_intake_result

        customer = Customer.objects.get(pk=self.visitor.customer_id, tenant_id=self.visitor.tenant_id)
        # Start, route and assign in one service; it returns the state after dispatch.
        return conversation_intake_result(channel=self.channel, customer=customer, subject=subject)

    async def conversation(self, conversation_id, *, fresh: bool = False, level: str = policy.VIEW) -> Conversation:
        if isinstance(conversation_id, bool) or not isinstance(conversation_id, int):
            raise ApplicationError("invalid_frame", _("Field %(f)s must be an integer.") % {"f": "conversation_id"})
        cached = self.access.get((conversation_id, policy.VIEW))
        if cached is not None and not fresh:
            return cached  # a conversation never changes customer: no expiry needed
        conversation = await db(selectors.conversation_get_for_visitor)(
            visitor=self.visitor, conversation_id=conversation_id
        )
        self.access[(conversation_id, policy.VIEW)] = conversation
        return conversation

    def sender(self) -> dict:
        return {"sender_kind": SenderKind.VISITOR, "sender_user": None}

    def reader(self) -> dict:
        return {"reader_kind": SenderKind.VISITOR, "user": None}

    def typing_identity(self) -> tuple[str, str]:
        return SenderKind.VISITOR, ""

    def may_see(self, message: dict) -> bool:
        return message.get("visibility") == Visibility.ALL

    def filter_event(self, event: dict) -> dict | None:
        etype = event["type"]
        if etype not in protocol.VISITOR_EVENTS:
            return None
        if etype == "typing" and event.get("sender_kind") == SenderKind.VISITOR:
            return None
        if etype == "read" and event.get("reader_kind") != SenderKind.VISITOR:
            event = {**event, "reader_id": None}  # which staff member read it is not the visitor's business
        if "conversation" in event:
            conv = event["conversation"] or {}
            event = {k: v for k, v in event.items() if k not in ("conversation", "agent_id")}
            event["conversation_id"] = conv.get("id")
            event["status"] = conv.get("status")
        return event
