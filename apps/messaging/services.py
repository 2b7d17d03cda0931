"""Writing messages: gap-free seq, idempotent on the sender's client message id, published
only after commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction
from django.db.models import Field, Model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.conversations.locking import retry_on_deadlock
from apps.conversations.models import Conversation
from apps.core.errors import ApplicationError
from apps.messaging import hooks, outbox
from apps.messaging.groups import conversation_group
from apps.messaging.models import ContentType, Message, SenderKind, Visibility
from apps.messaging.publish import publish, publish_many
from apps.messaging.serializers import message_to_dict

if TYPE_CHECKING:
    from apps.accounts.models import User

MAX_BODY_CHARS = 5000
STAFF_KINDS = {SenderKind.AGENT, SenderKind.SUPERVISOR, SenderKind.SALESPERSON}


def _preview(content_type: str, body: str) -> str:
    if content_type == ContentType.IMAGE:
        return "[图片]"
    if content_type == ContentType.FILE:
        return "[文件]"
    return body[:200]


@dataclass
class SendRequest:
    """One message to write (the arguments of `message_create`)."""

    conversation_id: int
    sender_kind: str
    body: str = ""
    content_type: str = ContentType.TEXT
    payload: dict | None = None
    client_msg_id: str | None = None
    sender_user: User | None = None
    visibility: str = Visibility.ALL
    allow_closed: bool = False


@dataclass(frozen=True)
class Sent:
    """What a send did: the message, and whether this call wrote it (False: its client_msg_id
    was written before, by an earlier send or earlier in the same batch, and this is that row)."""

    message: Message
    created: bool


def _validate(request: SendRequest) -> ApplicationError | None:
    if len(request.body) > MAX_BODY_CHARS:
        return ApplicationError(
            "message_too_long", _("A message can be at most %(n)d characters.") % {"n": MAX_BODY_CHARS}
        )
    if request.content_type == ContentType.TEXT and not request.body.strip():
        return ApplicationError("empty_message", _("The message is empty."))
    if request.client_msg_id is not None and not (1 <= len(request.client_msg_id) <= 64):
        return ApplicationError("invalid_client_msg_id", _("client_msg_id must be 1 to 64 characters."))
    return None


def message_create(
    *,
    conversation_id: int,
    sender_kind: str,
    body: str = "",
    content_type: str = ContentType.TEXT,
    payload: dict | None = None,
    client_msg_id: str | None = None,
    sender_user: User | None = None,
    visibility: str = Visibility.ALL,
    allow_closed: bool = False,
) -> Message:
    """Create a message, or return the one already created with the same client_msg_id. One
    message is a batch of one: see `messages_create`; `message_send` also tells whether this
    call wrote it."""
    return message_send(
        request=SendRequest(
            conversation_id=conversation_id,
            sender_kind=sender_kind,
            body=body,
            content_type=content_type,
            payload=payload,
            client_msg_id=client_msg_id,
            sender_user=sender_user,
            visibility=visibility,
            allow_closed=allow_closed,
        )
    ).message


def message_send(*, request: SendRequest) -> Sent:
    """Write one message (a batch of one), or find it by its client_msg_id; raises the
    ApplicationError that refused it."""
    result = messages_create(requests=[request])[0]
    if isinstance(result, ApplicationError):
        raise result
    return result


def messages_create(*, requests: list[SendRequest]) -> list[Sent | ApplicationError]:
    """Write many messages, of one or many conversations, in one transaction (group commit).

    Under the conversation row locks (taken in id order, so two batches never deadlock on each
    other) only the messages' own writes happen, in a constant number of statements whatever the
    batch size: lock, idempotency probe, one multi-row INSERT, one UPDATE of the conversations.
    Messages of one conversation get consecutive seqs in request order. Listeners run after the
    commit (`hooks.on_messages_committed`), except outbox rows (`hooks.on_messages_written`).

    Returns, per request and in order, what was sent (`Sent.created` False when its
    client_msg_id was already written) or the ApplicationError that refused it; one refused
    request does not affect the others.
    """
    refusals = [_validate(r) for r in requests]
    todo = [i for i, refusal in enumerate(refusals) if refusal is None]
    written = dict(zip(todo, _write_valid([requests[i] for i in todo]) if todo else [], strict=True))
    return [written[i] if refusal is None else refusal for i, refusal in enumerate(refusals)]


def _write_valid(requests: list[SendRequest]) -> list[Sent | ApplicationError]:
    try:
        return retry_on_deadlock(lambda: _write_batch(requests))
    except IntegrityError:
        # Two sends of one client_msg_id raced past the probe on different connections: the
        # row lock makes this nearly impossible, the unique constraint makes it harmless.
        if len(requests) > 1:
            return [messages_create(requests=[request])[0] for request in requests]
        request = requests[0]
        existing = (
            Message.objects.filter(conversation_id=request.conversation_id, client_msg_id=request.client_msg_id)
            .select_related("conversation")
            .first()
            if request.client_msg_id
            else None
        )
        if existing is None:
            raise
        return [Sent(existing, created=False)]


@dataclass
class _Batch:
    """One batch being written, under its conversations' row locks."""

    conversations: dict[int, Conversation]
    existing: dict[tuple[int, str | None], Message]
    now: datetime
    out: list[Message | ApplicationError] = field(default_factory=list)
    created: list[Message] = field(default_factory=list)
    updates: dict[int, dict] = field(default_factory=dict)


def _write_batch(requests: list[SendRequest]) -> list[Sent | ApplicationError]:
    with transaction.atomic():
        batch = _Batch(
            conversations=_lock_conversations(requests), existing=_probe_existing(requests), now=timezone.now()
        )
        for request in requests:
            batch.out.append(_plan_message(batch, request))
        if batch.created:
            _insert_messages(batch.created, batch.now)
        sent = _sent_results(batch.out, batch.created, batch.conversations)
        if not batch.created:
            return sent
        _update_conversations(batch.updates)
        hooks.run_messages_written(batch.created)
        token = outbox.outbox_write(messages=batch.created, now=batch.now)
        _publish_on_commit(batch.created)
        created = batch.created
        transaction.on_commit(lambda: outbox.outbox_hand_off(messages=created, token=token))
        return sent


def _lock_conversations(requests: list[SendRequest]) -> dict[int, Conversation]:
    """The batch's conversations, locked in id order (two batches never deadlock on each other)."""
    conversation_ids = sorted({r.conversation_id for r in requests})
    locked = Conversation.objects.select_for_update().filter(pk__in=conversation_ids).order_by("pk")
    return {c.pk: c for c in locked}


def _probe_existing(requests: list[SendRequest]) -> dict[tuple[int, str | None], Message]:
    """The messages already written under the batch's client message ids (one query)."""
    wanted = {(r.conversation_id, r.client_msg_id) for r in requests if r.client_msg_id}
    if not wanted:
        return {}
    probe = Message.objects.filter(
        conversation_id__in={c for c, _m in wanted}, client_msg_id__in={m for _c, m in wanted}
    )
    return {(m.conversation_id, m.client_msg_id): m for m in probe if (m.conversation_id, m.client_msg_id) in wanted}


def _plan_message(batch: _Batch, request: SendRequest) -> Message | ApplicationError:
    """The request's answer: the message written earlier under its client id, a refusal, or a new
    message with the conversation's next seq (added to the batch's inserts and updates)."""
    conversation = batch.conversations.get(request.conversation_id)
    if conversation is None:
        return ApplicationError("not_found", _("Conversation not found."), status=404)
    key = (conversation.pk, request.client_msg_id)
    if request.client_msg_id and key in batch.existing:
        return batch.existing[key]  # told apart from the first send by _sent_results
    if not conversation.is_open and not request.allow_closed:
        return ApplicationError("conversation_closed", _("This conversation has ended."), status=409)
    conversation.last_seq += 1
    message = Message(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        seq=conversation.last_seq,
        client_msg_id=request.client_msg_id or None,
        sender_kind=request.sender_kind,
        sender_user=request.sender_user,
        content_type=request.content_type,
        body=request.body,
        payload=request.payload or {},
        visibility=request.visibility,
    )
    if request.client_msg_id:
        batch.existing[key] = message  # the same id twice in one batch is written once
    batch.created.append(message)
    _note_conversation_update(batch, conversation, request)
    return message


def _note_conversation_update(batch: _Batch, conversation: Conversation, request: SendRequest) -> None:
    """What the batch's one UPDATE writes to the conversation for this message."""
    update = batch.updates.setdefault(conversation.pk, {})
    update["last_seq"] = conversation.last_seq
    # System lines ("…为您服务") are notices, not the conversation's last word.
    if request.visibility == Visibility.ALL and request.sender_kind != SenderKind.SYSTEM:
        now = batch.now
        update["last_message_at"] = now
        update["last_message_preview"] = _preview(request.content_type, request.body)
        if request.sender_kind == SenderKind.VISITOR:
            update["last_visitor_message_at"] = now
        elif request.sender_kind in STAFF_KINDS:
            update["last_agent_message_at"] = now
            if conversation.first_response_at is None and conversation.assigned_at is not None:
                update["first_response_at"] = now
    for name, value in update.items():
        setattr(conversation, name, value)


def _publish_on_commit(created: list[Message]) -> None:
    """One wake-up per message, all sent together after the commit."""
    publish_many(
        [
            (
                conversation_group(m.conversation.tenant_id, m.conversation_id),
                {"type": "message.created", "conversation_id": m.conversation_id, "message": message_to_dict(m)},
            )
            for m in created
        ]
    )


def _sent_results(
    out: list[Message | ApplicationError], created: list[Message], conversations: dict[int, Conversation]
) -> list[Sent | ApplicationError]:
    """Each request's result: the first request of a new message wrote it; a request whose
    client_msg_id was written before (or earlier in this batch) gets that row, not created."""
    new_ids = {id(m) for m in created}
    seen: set[int] = set()
    results: list[Sent | ApplicationError] = []
    for result in out:
        if isinstance(result, ApplicationError):
            results.append(result)
            continue
        result.conversation = conversations[result.conversation_id]
        results.append(Sent(result, created=id(result) in new_ids and id(result) not in seen))
        seen.add(id(result))
    return results


def _stored_field(model: type[Model], name: str) -> tuple[Field, str]:
    """A field stored in its own column, and that column quoted for hand-written SQL."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise ValueError(f"{model._meta.label}.{name} has no column of its own")
    return field, connection.ops.quote_name(field.column)


_INSERT_COLUMNS = (
    "tenant_id",
    "conversation_id",
    "seq",
    "client_msg_id",
    "sender_kind",
    "sender_user_id",
    "content_type",
    "body",
    "payload",
    "visibility",
    "created_at",
)


def _insert_messages(messages: list[Message], now) -> None:
    """One multi-row INSERT ... RETURNING id, written by hand: bulk_create's per-object, per-field
    compilation cost more Python time than the statement (it is what a database without
    RETURNING falls back to)."""
    if not connection.features.can_return_rows_from_bulk_insert:
        Message.objects.bulk_create(messages)
        return
    meta, ops = Message._meta, connection.ops
    payload_field = _stored_field(Message, "payload")[0]
    created_at = _stored_field(Message, "created_at")[0].get_db_prep_save(now, connection)
    params: list = []
    for m in messages:
        m.created_at = now
        params += (
            m.tenant_id,
            m.conversation_id,
            m.seq,
            m.client_msg_id,
            m.sender_kind,
            m.sender_user_id,
            m.content_type,
            m.body,
            payload_field.get_db_prep_save(m.payload, connection),
            m.visibility,
            created_at,
        )
    row = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"
    sql = "INSERT INTO {} ({}) VALUES {} RETURNING {}, {}, {}".format(
        ops.quote_name(meta.db_table),
        ", ".join(ops.quote_name(c) for c in _INSERT_COLUMNS),
        ", ".join([row] * len(messages)),
        _stored_field(Message, meta.pk.name)[1],
        ops.quote_name("conversation_id"),
        ops.quote_name("seq"),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # matched by (conversation, seq), unique: no reliance on the order rows come back in
        ids = {(conversation_id, seq): pk for pk, conversation_id, seq in cursor.fetchall()}
    for m in messages:
        m.pk = m.id = ids[(m.conversation_id, m.seq)]
        m._state.adding = False
        m._state.db = connection.alias


def _update_conversations(updates: dict[int, dict]) -> None:
    """One UPDATE for every conversation of the batch: `col = CASE id WHEN .. THEN .. ELSE col END`
    per column, written by hand (building Case/When expressions for a large batch cost more
    Python time than the statement itself)."""
    if len(updates) == 1:
        ((pk, fields),) = updates.items()
        Conversation.objects.filter(pk=pk).update(**fields)
        return
    meta, ops = Conversation._meta, connection.ops
    table, (_pk, pk_column) = ops.quote_name(meta.db_table), _stored_field(Conversation, meta.pk.name)
    columns: dict[str, list] = {}
    for pk, fields in updates.items():
        for name, value in fields.items():
            columns.setdefault(name, []).append((pk, value))
    assignments, params = [], []
    for name, pairs in columns.items():
        field, column = _stored_field(Conversation, name)
        assignments.append(f"{column} = CASE {pk_column}{' WHEN %s THEN %s' * len(pairs)} ELSE {column} END")
        for pk, value in pairs:
            params += [pk, field.get_db_prep_save(value, connection)]
    ids = list(updates)
    params += ids
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk_column} IN ({', '.join(['%s'] * len(ids))})"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def read_mark(*, conversation: Conversation, seq: int, reader_kind: str, user=None) -> int:
    """Move the reader's read mark forward to `seq` (never back) and tell the conversation.

    reader_kind is "visitor" or a staff participant kind; staff readers get a participant row
    on their first read mark. Returns the reader's read mark after the call.
    """
    from apps.conversations.models import Participant

    try:
        seq = int(seq)
    except (TypeError, ValueError):
        raise ApplicationError("invalid_frame", _("seq must be an integer."))
    if seq < 0 or seq > conversation.last_seq:
        raise ApplicationError("invalid_seq", _("seq is beyond the last message of the conversation."))
    with transaction.atomic():
        lookup = {"conversation_id": conversation.pk, "kind": reader_kind, "user": user}
        moved = Participant.objects.filter(**lookup, last_read_seq__lt=seq).update(last_read_seq=seq)
        if not moved:
            onlooker = reader_kind != SenderKind.VISITOR and user is not None and conversation.assignee_id != user.pk
            participant, created = Participant.objects.get_or_create(
                **lookup,
                defaults={
                    "tenant_id": conversation.tenant_id,
                    "last_read_seq": seq,
                    "silent": onlooker,
                    # A staff onlooker's row only keeps the read mark: born "left", it grants no
                    # access (the access policy counts active participants; joining revives it).
                    "left_at": timezone.now() if onlooker else None,
                },
            )
            if not created:
                return participant.last_read_seq
        publish(
            conversation_group(conversation.tenant_id, conversation.pk),
            {
                "type": "read",
                "conversation_id": conversation.pk,
                "reader_kind": reader_kind,
                "reader_id": getattr(user, "pk", None),
                "seq": seq,
            },
        )
    return seq


def typing_notify(*, conversation: Conversation, sender_kind: str, sender_name: str, is_typing: bool) -> None:
    """A typing indicator: nothing is stored, the conversation's connections are told."""
    publish(
        conversation_group(conversation.tenant_id, conversation.pk),
        {
            "type": "typing",
            "conversation_id": conversation.pk,
            "sender_kind": sender_kind,
            "sender_name": sender_name,
            "is_typing": bool(is_typing),
        },
    )


def staff_sender_kind(user) -> str:
    """How a staff member's messages are labelled: agents as agents, managers as supervisors."""
    return SenderKind.AGENT if user.role == "agent" else SenderKind.SUPERVISOR


def visitor_session_create(
    *,
    channel_key: str,
    origin: str | None,
    visitor_id: str | None = None,
    identity: dict | None = None,
    own_origin: str | None = None,
) -> dict:
    """Authenticate a widget/app visitor on a channel: resolve the customer, issue a visitor token.

    Web channels only answer pages on the channel's allowed origins.
    """
    from apps.channels.models import Channel
    from apps.customers.services import customer_resolve_visitor
    from apps.messaging.visitor import visitor_token_issue

    channel = Channel.objects.select_related("tenant").filter(key=channel_key).first()
    if channel is None or not channel.tenant.is_active:
        raise ApplicationError("not_found", _("Unknown channel."), status=404)
    if not channel.is_enabled:
        raise ApplicationError("channel_disabled", _("This channel is not accepting conversations."), status=403)
    if (channel.kind == "web" or origin) and not channel.origin_allowed(origin, own_origin=own_origin):
        raise ApplicationError("origin_not_allowed", _("This site may not open the chat."), status=403)
    with transaction.atomic():
        customer, visitor_id = customer_resolve_visitor(tenant=channel.tenant, visitor_id=visitor_id, identity=identity)
    token, expires_at = visitor_token_issue(tenant_id=channel.tenant_id, channel_id=channel.pk, customer_id=customer.pk)
    return {
        "channel": channel,
        "customer": customer,
        "visitor_id": visitor_id,
        "token": token,
        "expires_at": expires_at,
    }
