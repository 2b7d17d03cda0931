"""Collision detection: which staff have a conversation open right now, and whether they are
typing or holding an unsent draft, so two people do not answer the same customer at once.

The state is ours, in Redis (never guessed from channel-layer groups): one hash per conversation,
one field per staff connection ("{user_id}:{channel name}", so two tabs of one person do not
overwrite each other), the value the person, their state and when it was last refreshed. Clients
refresh every VIEW_REFRESH seconds; an entry older than STALE_AFTER is ignored and dropped, so a
crashed server's connections go away by themselves. A change is published as
`conversation.viewers` to the staff concerned only (the people viewing it and its agent): never to
the visitor.
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_redis import get_redis_connection

from apps.conversations.models import Conversation
from apps.core.errors import ApplicationError
from apps.messaging.groups import agent_group
from apps.messaging.publish import publish

STATES = ("viewing", "typing", "draft")
STALE_AFTER = 60
VIEW_REFRESH = 20  # the workbench re-sends its state this often
_RANK = {"viewing": 0, "draft": 1, "typing": 2}


def _key(conversation_id: int) -> str:
    return f"{getattr(settings, 'REDIS_PREFIX', 'kefu')}:im:viewers:{conversation_id}"


def _redis():
    return get_redis_connection("default")


def _people(raw: dict, now: float) -> tuple[list[dict], list]:
    """One entry per person (the most telling state of their connections), and the stale fields."""
    people: dict[int, dict] = {}
    stale = []
    for field, value in raw.items():
        try:
            entry = json.loads(value)
        except ValueError:
            stale.append(field)
            continue
        if entry.get("at", 0) < now - STALE_AFTER:
            stale.append(field)
            continue
        uid = int(entry["user_id"])
        best = people.get(uid)
        if best is None or _RANK[entry["state"]] > _RANK[best["state"]]:
            people[uid] = {k: entry[k] for k in ("user_id", "name", "kind", "state")}
    return sorted(people.values(), key=lambda e: e["user_id"]), stale


def viewers_of(*, conversation_id: int, now: float | None = None) -> list[dict]:
    """Who has the conversation open, one entry per person; stale entries are dropped."""
    now = time.time() if now is None else now
    viewers, stale = _people(_redis().hgetall(_key(conversation_id)), now)
    if stale:
        _redis().hdel(_key(conversation_id), *stale)
    return viewers


def _tell(conversation: Conversation, viewers: list[dict], version: int, also: set[int]) -> None:
    users = {v["user_id"] for v in viewers} | also
    if conversation.assignee_id:
        users.add(conversation.assignee_id)
    if users:
        publish(
            [agent_group(conversation.tenant_id, uid) for uid in sorted(users)],
            {
                "type": "conversation.viewers",
                "conversation_id": conversation.pk,
                "viewers": viewers,
                "version": version,
            },
        )


def viewer_set(*, user, conversation: Conversation, channel_name: str, state: str) -> list[dict]:
    """Record that `user` (on this connection) views the conversation in `state`, or left it
    (`state="left"`), and tell the staff concerned when that changes what they see.

    The write, a version number and the read of the whole list happen in one MULTI, so each event
    carries the list as of its version: concurrent changes may be delivered out of order, and
    clients keep the highest version."""
    if state not in (*STATES, "left"):
        raise ApplicationError("invalid_frame", _("Unknown viewing state."))
    from apps.messaging.services import staff_sender_kind

    key, field, now = _key(conversation.pk), f"{user.pk}:{channel_name}", time.time()
    pipe = _redis().pipeline(transaction=True)
    pipe.hget(key, field)
    if state == "left":
        pipe.hdel(key, field)
    else:
        entry = {"user_id": user.pk, "name": user.name, "kind": staff_sender_kind(user), "state": state, "at": now}
        pipe.hset(key, field, json.dumps(entry, ensure_ascii=False))
    pipe.expire(key, STALE_AFTER * 2)
    pipe.incr(key + ":v")
    pipe.expire(key + ":v", 24 * 3600)
    pipe.hgetall(key)
    results = pipe.execute()
    old, version, raw = results[0], int(results[3]), results[5]
    viewers, stale = _people(raw, now)
    if stale:
        _redis().hdel(key, *stale)
    try:
        previous = json.loads(old) if old else None
    except ValueError:
        previous = None
    unchanged = (
        previous is not None
        and state != "left"
        and previous.get("state") == state
        and previous.get("at", 0) >= now - STALE_AFTER
    )
    if not unchanged and not (old is None and state == "left"):
        _tell(conversation, viewers, version, {user.pk})
    return viewers


def viewer_gone(*, user, channel_name: str, conversation_ids: list[int]) -> None:
    """A staff connection closed: it views nothing any more."""
    for conversation in Conversation.objects.filter(pk__in=list(conversation_ids), tenant_id=user.tenant_id):
        viewer_set(user=user, conversation=conversation, channel_name=channel_name, state="left")
