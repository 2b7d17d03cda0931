"""The production topology, with the real programs: nginx, two daphne, two channel-layer Redis
shards, a MariaDB primary and its replica (the session fixture in conftest.py starts them).

What is proved here, end to end over sockets:
- a visitor connected to one daphne reaches an agent connected to the other through nginx, with
  the conversation's group and the agent's group on different Redis shards; when the agent's
  daphne is killed -9 the agent reconnects through nginx to the survivor and resumes by seq;
- report and history reads come from the replica, and from the primary when the replica is behind
  the configured bound or stopped; a read that must see a write just made (an export job right
  after its creation) stays on the primary whatever the replica does.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid

import pytest
import redis
from channels_redis.core import RedisChannelLayer
from websockets.asyncio.client import connect

pytestmark = [pytest.mark.timeout(240)]

PREFIX = "kefu:asgi"  # REDIS_PREFIX "kefu" in production settings


def _shard_index(running, name: str) -> int:
    hosts = running.topo.app_env()["CHANNEL_REDIS_URLS"].split(",")
    return RedisChannelLayer(hosts=hosts, prefix=PREFIX).consistent_hash(name)


def _shard(running, index: int) -> redis.Redis:
    return redis.Redis(port=running.topo.port_of(f"redis-shard-{index + 1}"))


async def _connect_on(url: str, upstream: str | None, avoid: str | None, **kwargs):
    """Connect through nginx until the socket lands on `upstream` (or anywhere but `avoid`).
    nginx balances round robin, so this takes a try or two; the header says which daphne served."""
    for _ in range(8):
        ws = await connect(url, open_timeout=20, **kwargs)
        served_by = ws.response.headers["X-Kefu-Upstream"]
        if (upstream is None or served_by == upstream) and served_by != avoid:
            return ws, served_by
        await ws.close()
    raise AssertionError(f"nginx never sent the socket to {upstream or 'another daphne than ' + str(avoid)}")


async def _recv_until(ws, predicate, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        if predicate(frame):
            return frame


async def test_visitor_on_one_daphne_reaches_agent_on_another_through_nginx_over_two_redis_shards(topology):
    data = topology.data
    tenant = data["tenant_id"]

    def groups_of(p) -> list[str]:
        agent_id = data["agents"][p["agent"]]["id"]
        return [f"t{tenant}.conv.{p['conversation_id']}", f"t{tenant}.agent.{agent_id}", f"t{tenant}.staff"]

    # A conversation whose sockets' groups live on both shards (the message is published on the
    # conversation's shard; the agent's socket is also in groups on the other one).
    pair = next(p for p in data["pairs"] if len({_shard_index(topology, g) for g in groups_of(p)}) == 2)
    agent = data["agents"][pair["agent"]]
    cookie = {"Cookie": f"{data['session_cookie_name']}={agent['session']}"}

    agent_ws, daphne_a = await _connect_on(f"{topology.ws_url}/ws/agent/", None, None, additional_headers=cookie)
    hello = await _recv_until(agent_ws, lambda f: f["type"] == "hello")
    assert pair["conversation_id"] in [c["id"] for c in hello["conversations"]]
    visitor_ws, daphne_b = await _connect_on(
        f"{topology.ws_url}/ws/visitor/?token={pair['visitor_token']}", None, daphne_a, origin=data["origin"]
    )
    assert daphne_a != daphne_b
    await _recv_until(visitor_ws, lambda f: f["type"] == "hello")
    await visitor_ws.send(json.dumps({"type": "subscribe", "conversation_id": pair["conversation_id"], "last_seq": 0}))
    await _recv_until(visitor_ws, lambda f: f["type"] == "subscribed")

    # The groups really are on two different Redis servers.
    for group in groups_of(pair):
        on = _shard_index(topology, group)
        assert _shard(topology, on).exists(f"{PREFIX}:group:{group}"), group
        assert not _shard(topology, 1 - on).exists(f"{PREFIX}:group:{group}"), group

    first = f"topo-{uuid.uuid4().hex[:12]}"
    await visitor_ws.send(
        json.dumps({"type": "send", "conversation_id": pair["conversation_id"], "client_msg_id": first, "body": "你好"})
    )
    ack = await _recv_until(visitor_ws, lambda f: f["type"] == "ack")
    delivered = await _recv_until(agent_ws, lambda f: f["type"] == "message.created")
    assert delivered["message"]["client_msg_id"] == first
    assert delivered["message"]["seq"] == ack["seq"]

    # kill -9 the agent's daphne: the socket drops, a message is sent meanwhile, the agent comes
    # back through nginx (which skips the dead upstream) and resumes from its last seq.
    name_a = next(n for n in topology.topo.names("daphne") if daphne_a.endswith(f":{topology.topo.port_of(n)}"))
    topology.topo.kill(name_a)
    try:
        with pytest.raises(Exception):  # noqa: B017 - the connection is gone, however websockets says it
            await _recv_until(agent_ws, lambda f: False, timeout=10)
        second = f"topo-{uuid.uuid4().hex[:12]}"
        await visitor_ws.send(
            json.dumps(
                {"type": "send", "conversation_id": pair["conversation_id"], "client_msg_id": second, "body": "在吗"}
            )
        )
        ack2 = await _recv_until(visitor_ws, lambda f: f["type"] == "ack")
        agent_ws2 = await connect(f"{topology.ws_url}/ws/agent/", additional_headers=cookie, open_timeout=20)
        # (nginx may try the dead one first, then the next: "dead, alive" in the header)
        assert agent_ws2.response.headers["X-Kefu-Upstream"].split(", ")[-1] == daphne_b
        await _recv_until(agent_ws2, lambda f: f["type"] == "hello")
        await agent_ws2.send(
            json.dumps({"type": "resume", "conversation_id": pair["conversation_id"], "last_seq": ack["seq"]})
        )
        replayed = await _recv_until(agent_ws2, lambda f: f["type"] == "message.created")
        assert (replayed["message"]["client_msg_id"], replayed["message"]["seq"]) == (second, ack2["seq"])
        await agent_ws2.close()
    finally:
        await visitor_ws.close()
        topology.topo.start(name_a, wait=False)  # back for the next tests; nginx skips it meanwhile


# --- a channel-layer shard that stops ------------------------------------------------------------


async def test_a_visitor_connects_while_the_channel_layer_is_down_and_catches_up_on_its_heartbeat(topology):
    """With the shards down a socket still opens and subscribes (its group joins fail and are
    logged, not a 500 on the handshake); once they are back, empty, the next ping adds the socket
    to its groups again and replays what it missed, and live wake-ups flow again."""
    topo, data = topology.topo, topology.data
    pair = data["pairs"][-2]
    conversation_id = pair["conversation_id"]
    agent = data["agents"][pair["agent"]]
    shards = [name for name in topo.names("redis") if name.startswith("redis-shard-")]
    assert len(shards) == 2
    topo.stop(*shards)
    try:
        visitor_ws = await connect(
            f"{topology.ws_url}/ws/visitor/?token={pair['visitor_token']}", origin=data["origin"], open_timeout=20
        )
        hello = await _recv_until(visitor_ws, lambda f: f["type"] == "hello")
        last_seq = {c["id"]: c["last_seq"] for c in hello["conversations"]}[conversation_id]
        await visitor_ws.send(
            json.dumps({"type": "subscribe", "conversation_id": conversation_id, "last_seq": last_seq})
        )
        subscribed = await _recv_until(visitor_ws, lambda f: f["type"] in ("subscribed", "error"))
        assert subscribed["type"] == "subscribed", subscribed
    finally:
        for name in shards:
            topo.start(name)
    cookie = {"Cookie": f"{data['session_cookie_name']}={agent['session']}"}
    agent_ws = await connect(f"{topology.ws_url}/ws/agent/", additional_headers=cookie, open_timeout=20)
    try:
        await _recv_until(agent_ws, lambda f: f["type"] == "hello")
        missed = f"topo-{uuid.uuid4().hex[:12]}"
        await agent_ws.send(
            json.dumps({"type": "send", "conversation_id": conversation_id, "client_msg_id": missed, "body": "在的"})
        )
        ack = await _recv_until(agent_ws, lambda f: f["type"] == "ack")
        # The restarted shards forgot the visitor's groups: the message comes with the heartbeat.
        await visitor_ws.send(json.dumps({"type": "ping", "ref": "hb"}))
        replayed = await _recv_until(visitor_ws, lambda f: f["type"] in ("message.created", "pong"))
        assert replayed["type"] == "message.created", replayed
        assert (replayed["message"]["client_msg_id"], replayed["message"]["seq"]) == (missed, ack["seq"])
        await _recv_until(visitor_ws, lambda f: f["type"] == "pong")
        live = f"topo-{uuid.uuid4().hex[:12]}"
        await agent_ws.send(
            json.dumps({"type": "send", "conversation_id": conversation_id, "client_msg_id": live, "body": "还在"})
        )
        pushed = await _recv_until(visitor_ws, lambda f: f["type"] == "message.created")
        assert pushed["message"]["client_msg_id"] == live
    finally:
        await agent_ws.close()
        await visitor_ws.close()


# --- reads from the replica ----------------------------------------------------------------------


def _get(topology, path: str, *, session: str) -> tuple[int, str]:
    request = urllib.request.Request(
        topology.topo.url + path, headers={"Cookie": f"{topology.data['session_cookie_name']}={session}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _post_json(topology, path: str, body: dict, *, session: str) -> tuple[int, dict]:
    token = uuid.uuid4().hex + uuid.uuid4().hex[:0]
    token = (token * 2)[:32]
    request = urllib.request.Request(
        topology.topo.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Cookie": f"{topology.data['session_cookie_name']}={session}; csrftoken={token}",
            "X-CSRFToken": token,
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _replica_health(topology) -> dict:
    return topology.topo.healthz()[1]["components"]["replica"]


def _replica_health_when(topology, predicate, what: str) -> dict:
    def check():
        health = _replica_health(topology)
        return health if predicate(health) else None

    return _eventually(check, what=what)


def _eventually(check, timeout: float = 20.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.25)


def test_report_reads_come_from_the_replica_and_fall_back_when_it_lags_or_stops(topology):
    topo, data = topology.topo, topology.data
    admin = data["supervisor"]["session"]
    customer_id = data["pairs"][0]["customer_id"]
    marker = f"replica-only-{uuid.uuid4().hex[:8]}"
    # A row that differs on the replica alone: whoever shows it read the replica.
    topo.sql("mariadb-replica", f"UPDATE kefu.customers_customer SET display_name='{marker}' WHERE id={customer_id}")

    def history_shows_marker() -> bool | None:
        status, body = _get(topology, "/supervisor/history/", session=admin)
        assert status == 200, body[:500]
        return marker in body

    def history_from_primary() -> bool:
        return history_shows_marker() is False

    health = _replica_health_when(topology, lambda h: h["reads_from"] == "replica", "reads from the replica")
    assert health["lag_seconds"] is not None and health["lag_seconds"] <= 2
    assert _eventually(history_shows_marker, what="history read from the replica")
    status, body = _get(topology, "/supervisor/reports/?dimension=agent", session=admin)
    assert status == 200, body[:500]

    # Behind the bound (2 s here): hold replication back 30 s and write on the primary.
    topo.sql("mariadb-replica", "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=30; START SLAVE;")
    try:
        status, job = _post_json(topology, "/api/v1/exports/", {"format": "csv", "filters": {}}, session=admin)
        assert status == 201, job
        # The job was created a moment ago on the primary; reading it back must find it.
        status, body = _get(topology, f"/api/v1/exports/{job['id']}/", session=admin)
        assert status == 200 and json.loads(body)["id"] == job["id"], body
        lagging = _replica_health_when(topology, lambda h: h["reads_from"] == "primary", "the lag to pass the bound")
        assert lagging["lag_seconds"] > 2 and lagging["replicating"] is True
        _eventually(history_from_primary, what="history read from the primary while the replica lags")
    finally:
        topo.sql("mariadb-replica", "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=0; START SLAVE;")
    topo.wait_replica_caught_up(timeout=60)
    _eventually(history_shows_marker, what="history back on the replica once it caught up")

    # Stopped: reads go to the primary, /healthz says so; started again, reads come back.
    topo.kill("mariadb-replica")
    try:
        down = _replica_health_when(topology, lambda h: not h["reachable"], "the replica to be seen down")
        assert down["reads_from"] == "primary" and down["required"] is False
        _eventually(history_from_primary, what="history read from the primary while the replica is down")
        status, body = _get(topology, "/supervisor/reports/?dimension=agent", session=admin)
        assert status == 200, body[:500]
    finally:
        topo.start("mariadb-replica")
    _eventually(history_shows_marker, what="history back on the replica after its restart")


async def test_a_send_while_the_primary_restarts_fails_retryably_and_the_resend_is_written_once(topology):
    topo, data = topology.topo, topology.data
    pair = data["pairs"][-1]
    visitor_ws = await connect(
        f"{topology.ws_url}/ws/visitor/?token={pair['visitor_token']}", origin=data["origin"], open_timeout=20
    )
    await _recv_until(visitor_ws, lambda f: f["type"] == "hello")
    frame = {"type": "send", "conversation_id": pair["conversation_id"], "client_msg_id": f"topo-{uuid.uuid4().hex}"}
    topo.stop("mariadb-primary")
    try:
        await visitor_ws.send(json.dumps({**frame, "body": "主库重启中", "ref": 1}))
        error = await _recv_until(visitor_ws, lambda f: f["type"] in ("error", "ack"))
        assert error["type"] == "error" and error["code"] == "unavailable", error
        assert error["retry"] is True and error["retry_after_ms"] > 0 and error["ref"] == 1
    finally:
        topo.start("mariadb-primary")
    # The client sends the same frame again (same client_msg_id) until it is acked; once, or twice
    # for a send whose commit was cut off, it is written exactly once.
    acks = []
    for _ in range(2):
        deadline = time.monotonic() + 30
        while True:
            await visitor_ws.send(json.dumps({**frame, "body": "主库重启中"}))
            answer = await _recv_until(visitor_ws, lambda f: f["type"] in ("error", "ack"))
            if answer["type"] == "ack":
                acks.append(answer)
                break
            assert answer["code"] == "unavailable" and time.monotonic() < deadline, answer
            await asyncio.sleep(answer["retry_after_ms"] / 1000)
    await visitor_ws.close()
    assert acks[0]["seq"] == acks[1]["seq"] and acks[1]["duplicate"] is True
    count = topo.sql(
        "mariadb-primary",
        f"SELECT COUNT(*) FROM kefu.messaging_message WHERE client_msg_id='{frame['client_msg_id']}'",
    ).stdout.strip()
    assert count == "1"
