"""The after-commit work of written messages, made durable (a transactional outbox).

A batch's `on_messages_committed` listeners run in the sending process after its COMMIT. That
is a wake-up, and never to be trusted alone: when the database goes away during COMMIT the batch
may be committed while the sender gets an error (it resends and gets the original back as a
duplicate), and a process killed between COMMIT and its callbacks runs nothing. So every batch
writes one `MessageOutbox` row in its own transaction (one INSERT, the only statement this adds
to the send path); after the listeners have handed their work off, the sender marks the row in
the cache (no database statement). `outbox_sweep`, on beat, deletes the rows marked handed off
and runs the listeners again for rows older than `GRACE` that are not: every listener is safe to
run twice (unique delivery rows and a claimed POST for pushes, one bot answer per visitor
message, INSERT IGNORE indexing, one mention per note and person, a wake only for a message
written after the wait began). A lost mark (the cache restarted) only means work done twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from apps.messaging import hooks
from apps.messaging.models import Message, MessageOutbox

logger = logging.getLogger(__name__)

GRACE = dt.timedelta(seconds=10)  # the sender's own hand-off normally takes milliseconds
LEASE = dt.timedelta(seconds=60)  # a sweeper running a row's listeners holds it this long
MARK_SECONDS = 3600  # far longer than a row waits for the sweeper
SWEEP_LIMIT = 2000
SWEEP_PAGES = 10


def _mark_key(token: str) -> str:
    return f"msg-outbox-done:{token}"


def outbox_write(*, messages: list[Message], now: dt.datetime) -> str:
    """Inside the batch's transaction: the row that keeps its after-commit work (one INSERT).
    Returns the token that names its hand-off mark."""
    token = uuid.uuid4().hex
    MessageOutbox.objects.create(created_at=now, message_ids=[m.pk for m in messages], token=token)
    return token


def outbox_hand_off(*, messages: list[Message], token: str) -> bool:
    """After the commit: run the listeners; when all of them handed their work off, mark the row
    so the sweeper only deletes it. A failure is logged and leaves the row to the sweeper."""
    try:
        hooks.run_messages_committed(messages)
    except Exception:  # noqa: BLE001 - the messages are committed; the sweeper runs this again
        logger.exception("on_messages_committed listener failed for %d messages", len(messages))
        return False
    try:
        cache.set(_mark_key(token), 1, MARK_SECONDS)
    except Exception:  # noqa: BLE001 - without the mark the sweeper runs the work again: harmless
        logger.warning("outbox row %s not marked handed off", token, exc_info=True)
    return True


def _claim(outbox_id: int, now: dt.datetime) -> bool:
    """Take the row for this sweeper (a conditional UPDATE: of two sweepers, one gets it)."""
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    return bool(MessageOutbox.objects.filter(free, pk=outbox_id).update(lease_until=now + LEASE))


def outbox_sweep(*, now: dt.datetime | None = None, limit: int = SWEEP_LIMIT, pages: int = SWEEP_PAGES) -> int:
    """Beat job: forget the rows whose work was handed off; run the listeners again for the rest
    (older than GRACE, not held by another sweeper). Page by page while pages come back full (a
    busy send path writes hundreds of rows a second). Returns how many rows' work it ran."""
    now = now or timezone.now()
    ran = 0
    for _page in range(pages):
        seen, claimed = _sweep_page(now=now, limit=limit)
        ran += claimed
        if seen < limit:
            break
    return ran


def _sweep_page(*, now: dt.datetime, limit: int) -> tuple[int, int]:
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    rows = list(
        MessageOutbox.objects.filter(free, created_at__lt=now - GRACE)
        .order_by("pk")
        .values_list("pk", "message_ids", "token")[:limit]
    )
    if not rows:
        return 0, 0
    marked = cache.get_many([_mark_key(token) for _pk, _ids, token in rows])
    done = [pk for pk, _ids, token in rows if _mark_key(token) in marked]
    claimed = [(pk, ids) for pk, ids, token in rows if _mark_key(token) not in marked and _claim(pk, now)]
    if claimed:
        ids = sorted({i for _pk, message_ids in claimed for i in message_ids})
        messages = list(Message.objects.filter(pk__in=ids).select_related("conversation").order_by("pk"))
        if messages:
            logger.warning("outbox: running the after-commit work of %d messages again", len(messages))
            hooks.run_messages_committed(messages)  # raises: the rows stay, leased, and come back
        done += [pk for pk, _ids in claimed]
    MessageOutbox.objects.filter(pk__in=done).delete()
    cache.delete_many([_mark_key(token) for _pk, _ids, token in rows if _mark_key(token) in marked])
    return len(rows), len(claimed)
