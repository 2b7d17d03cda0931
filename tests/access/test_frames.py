"""The websocket half of the matrix: every conversation-bound client frame x every actor who can
open /ws/agent/, for the served conversation and for a missing id. Outside the reach the answer
is the missing id's answer; inside it, the frame works. A new client frame without an entry here
fails `test_every_client_frame_is_in_the_matrix`. Also: a change of role or branch narrows an
open socket at once."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from apps.messaging import protocol
from tests.access.conftest import IN_REACH, OUT_OF_REACH
from tests.messaging.wsutil import agent_ws, drain, recv, send

pytestmark = [pytest.mark.django_db(transaction=True)]

MISSING = 2_000_000_000

# frame type -> (extra fields, what answers it inside the reach; None: nothing, no error)
FRAMES: dict[str, tuple[dict, str | None]] = {
    "subscribe": ({"last_seq": 0}, "subscribed"),
    "resume": ({"last_seq": 0}, "subscribed"),
    "send": ({"body": "在的", "client_msg_id": None}, "ack"),
    "typing": ({"is_typing": True}, None),
    "read": ({"seq": 1}, None),
    # a system line: nobody's to recall, so inside the reach the answer is "not the sender"
    "recall": ({"message_id": "{msg}"}, "error:recall_not_sender"),
    "viewing": ({"state": "viewing"}, "viewers"),
}
# Frames that name no conversation, or only leave one (nothing to reach).
NOT_CONVERSATION_BOUND = {"ping", "unsubscribe"}


def test_every_client_frame_is_in_the_matrix():
    frames = set(protocol.CLIENT_FRAMES_COMMON)
    frames |= set(protocol.CLIENT_FRAMES_AGENT)
    assert frames - NOT_CONVERSATION_BOUND == set(FRAMES)


async def _answer(comm, ftype: str, conversation_id: int, fields: dict, ref: str) -> dict | None:
    frame = {"type": ftype, "conversation_id": conversation_id, "ref": ref, **fields}
    if frame.get("message_id") == "{msg}":
        frame["message_id"] = await sync_to_async(_first_message_id)(conversation_id)
    if ftype == "send":
        frame["client_msg_id"] = ref
    await send(comm, **frame)
    # A socket handles one frame at a time, in order: the answer (if any) comes before the pong.
    await send(comm, type="ping", ref=f"{ref}-ping")
    frames = []
    while True:
        got = await recv(comm, timeout=15)
        if got.get("ref") == f"{ref}-ping":
            break
        if got.get("ref") == ref:
            frames.append(got)
    if not frames:
        return None
    answer = dict(frames[-1])
    answer.pop("ref", None)
    answer.pop("conversation_id", None)
    return answer


def _first_message_id(conversation_id: int) -> int:
    from apps.messaging.models import Message

    # The served conversation's first line; for the missing id, any message id at all.
    row = Message.objects.filter(conversation_id=conversation_id).order_by("seq").values_list("pk", flat=True).first()
    return row or Message.objects.order_by("pk").values_list("pk", flat=True)[0]


async def test_every_frame_answers_outside_the_reach_exactly_like_a_missing_id(world):
    failures = []
    for name in sorted((IN_REACH | OUT_OF_REACH) - {"disabled_sup"}):
        comm = await agent_ws(world.actors[name])
        assert comm is not None, name
        for ftype, (fields, expected) in FRAMES.items():
            real = await _answer(comm, ftype, world.served.pk, fields, f"{name}-{ftype}-real")
            missing = await _answer(comm, ftype, MISSING, fields, f"{name}-{ftype}-missing")
            assert missing is not None and missing["type"] == "error" and missing["code"] == "not_found"
            if name in IN_REACH:
                got = real["type"] if real is not None else None
                if got == "error":
                    got = f"error:{real['code']}"
                if got != expected:
                    failures.append(f"{name} {ftype}: {real} (expected {expected})")
            elif real != missing:
                failures.append(f"{name} {ftype}: {real} != missing {missing}")
        await comm.disconnect()
    assert not failures, "\n".join(failures)


async def test_a_disabled_user_cannot_open_a_socket(world):
    assert await agent_ws(world.disabled_sup) is None


async def test_moving_a_supervisor_to_another_branch_unsubscribes_what_they_no_longer_reach(world):
    from apps.accounts import services as account_services

    comm = await agent_ws(world.a.sup_east)
    await send(comm, type="subscribe", conversation_id=world.served.pk, last_seq=0)
    while (await recv(comm))["type"] != "subscribed":
        pass
    await sync_to_async(account_services.user_update)(
        user=world.a.sup_east, actor=world.a.admin, branch=world.a.south, set_branch=True
    )
    frames = await drain(comm, wait=1.0)
    assert {"type": "unsubscribed", "conversation_id": world.served.pk, "reason": "access_lost"} in frames
    await send(comm, type="send", conversation_id=world.served.pk, body="x", client_msg_id="moved-1", ref="m")
    answer = [f for f in await drain(comm, wait=0.5) if f.get("ref") == "m"]
    assert answer and answer[0]["type"] == "error" and answer[0]["code"] == "not_found"
    await comm.disconnect()
