"""The access matrix: every conversation-bound endpoint and back-office page x every kind of
actor, against the expected reach written out by hand (tests/access/conftest.py).

Outside the reach, the answer is byte for byte the answer for an id that does not exist (same
status, same body); inside it, never a 404. The endpoint list is generated from the URLconf: a
new conversation-bound route without an entry here fails `test_every_conversation_route_is_in_the_matrix`.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.access.conftest import ACTORS, IN_REACH, OUT_OF_REACH

pytestmark = [pytest.mark.django_db(transaction=True)]

MISSING = 2_000_000_000  # an id no conversation has

# route (as the URLconf spells it) -> (method, url template, body, who may reach it: "view" =
# the served conversation's VIEW reach; "visitor" = visitors' own endpoints, which staff never reach)
ENDPOINTS: dict[str, tuple[str, str, dict | None, str]] = {
    "api/v1/^conversations/(?P<pk>[0-9]+)/$": ("get", "/api/v1/conversations/{id}/", None, "view"),
    "api/v1/^conversations/(?P<pk>[0-9]+)/accept/$": ("post", "/api/v1/conversations/{id}/accept/", {}, "view"),
    "api/v1/^conversations/(?P<pk>[0-9]+)/close/$": (
        "post",
        "/api/v1/conversations/{id}/close/",
        {"tags": "not-a-list"},
        "view",
    ),
    "api/v1/^conversations/(?P<pk>[0-9]+)/invite-rating/$": (
        "post",
        "/api/v1/conversations/{id}/invite-rating/",
        {},
        "view",
    ),
    "api/v1/^conversations/(?P<pk>[0-9]+)/tags/$": ("post", "/api/v1/conversations/{id}/tags/", {"tags": "x"}, "view"),
    "api/v1/^conversations/(?P<pk>[0-9]+)/transfer/$": (
        "post",
        "/api/v1/conversations/{id}/transfer/",
        {"to_agent": "x"},
        "view",
    ),
    "api/v1/^conversations/(?P<pk>[0-9]+)/transfer-targets/$": (
        "get",
        "/api/v1/conversations/{id}/transfer-targets/",
        None,
        "view",
    ),
    "api/v1/im/conversations/<int:conversation_id>/messages/": (
        "get",
        "/api/v1/im/conversations/{id}/messages/",
        None,
        "view",
    ),
    # {msg}: a message of the served conversation (a system line: nobody's to recall)
    "api/v1/im/conversations/<int:conversation_id>/messages/<int:message_id>/recall/": (
        "post",
        "/api/v1/im/conversations/{id}/messages/{msg}/recall/",
        {},
        "view",
    ),
    "api/v1/im/conversations/<int:conversation_id>/recalls/": (
        "get",
        "/api/v1/im/conversations/{id}/recalls/",
        None,
        "view",
    ),
    "api/v1/im/conversations/<int:conversation_id>/read/": (
        "post",
        "/api/v1/im/conversations/{id}/read/",
        {"seq": "x"},
        "view",
    ),
    "api/v1/im/conversations/<int:conversation_id>/attachments/": (
        "post",
        "/api/v1/im/conversations/{id}/attachments/",
        {},
        "view",
    ),
    "api/v1/channels/conversations/<int:conversation_id>/miniprogram-card/": (
        "post",
        "/api/v1/channels/conversations/{id}/miniprogram-card/",
        {"card": 0},
        "view",
    ),
    "api/v1/routing/conversations/<int:conversation_id>/waiting/": (
        "delete",
        "/api/v1/routing/conversations/{id}/waiting/",
        None,
        "view",
    ),
    "api/v1/kb/assist/<int:conversation_id>/": ("get", "/api/v1/kb/assist/{id}/", None, "view"),
    "api/v1/kb/assist/<int:conversation_id>/usage/": (
        "post",
        "/api/v1/kb/assist/{id}/usage/",
        {"entry_id": "x"},
        "view",
    ),
    "api/v1/kb/captured/<int:conversation_id>/": ("get", "/api/v1/kb/captured/{id}/", None, "view"),
    "api/v1/assist/conversations/<int:conversation_id>/": ("get", "/api/v1/assist/conversations/{id}/", None, "view"),
    # In the reach: 409, AI assistance is off in this world (nothing is called).
    "api/v1/assist/conversations/<int:conversation_id>/suggestions/": (
        "post",
        "/api/v1/assist/conversations/{id}/suggestions/",
        {},
        "view",
    ),
    "api/v1/workbench/conversations/<int:conversation_id>/customer/": (
        "get",
        "/api/v1/workbench/conversations/{id}/customer/",
        None,
        "view",
    ),
    "api/v1/workbench/history/<int:conversation_id>/": ("get", "/api/v1/workbench/history/{id}/", None, "view"),
    "api/v1/visitors/conversations/<int:conversation_id>/": (
        "get",
        "/api/v1/visitors/conversations/{id}/",
        None,
        "view",
    ),
    # The workbench's pages are for agent roles (a super admin gets a 404 for every id).
    "workbench/history/<int:conversation_id>/": ("get", "/workbench/history/{id}/", None, "view-serving-roles"),
    "supervisor/conversations/<int:pk>/": ("get", "/supervisor/conversations/{id}/", None, "manage"),
    "api/v1/widget/conversations/<int:conversation_id>/queue/": (
        "get",
        "/api/v1/widget/conversations/{id}/queue/",
        None,
        "visitor",
    ),
    "api/v1/widget/conversations/<int:conversation_id>/rating/": (
        "post",
        "/api/v1/widget/conversations/{id}/rating/",
        {"score": 5},
        "visitor",
    ),
}

# Supervisors' reach for MANAGE is the subtree: the same people as VIEW here, less the assignee.
MANAGE_REACH = {"sup_east", "admin"}


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def conversation_routes() -> set[str]:
    routes = set()
    for route in _walk(get_resolver().url_patterns):
        if route.startswith("manage/") or r"\.(?P<format>" in route:
            continue
        if "conversation_id" in route or re.search(r"conversations/(\(\?P<pk>|<int:pk>)", route):
            routes.add(route)
    return routes


def test_every_conversation_route_is_in_the_matrix():
    routes = conversation_routes()
    assert routes, "the URLconf walk found nothing: the walker is broken"
    missing = routes - set(ENDPOINTS)
    assert not missing, f"conversation-bound routes without an access-matrix entry: {sorted(missing)}"
    assert not set(ENDPOINTS) - routes, "matrix entries for routes that no longer exist"


def _call(client, method: str, url: str, body):
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    return client.post(url, body or {}, content_type="application/json")


_PER_REQUEST = [
    (re.compile(rb'nonce="[^"]*"'), b'nonce=""'),  # the CSP nonce of each response
    (re.compile(rb'(csrfmiddlewaretoken" value="|csrf-token" content=")[^"]*"'), rb'\1"'),
]


def _answer(response, url: str) -> tuple[int, bytes]:
    """Status and body, less what every response makes anew (CSP nonce, CSRF token) and the
    page's own address (the language switcher echoes it)."""
    body = response.content.replace(url.encode(), b"{url}")
    for pattern, repl in _PER_REQUEST:
        body = pattern.sub(repl, body)
    return response.status_code, body


def _expected(reach: str, actor: str) -> bool:
    if reach == "view":
        return actor in IN_REACH
    if reach == "manage":
        return actor in MANAGE_REACH
    if reach == "view-serving-roles":
        return actor in IN_REACH - {"admin"}
    return False


def test_every_endpoint_answers_outside_the_reach_exactly_like_a_missing_id(world, client):
    """One request per endpoint x actor for the served conversation and for a missing id."""
    from apps.conversations.models import Conversation
    from apps.messaging.models import Message

    before = Conversation.objects.values("status", "assignee_id", "waiting_since").get(pk=world.served.pk)
    first_message = Message.objects.filter(conversation=world.served).order_by("seq").values_list("pk", flat=True)[0]
    failures = []
    for actor_name in ACTORS:
        client.logout()
        client.force_login(world.actors[actor_name])
        for route, (method, template, body, reach) in ENDPOINTS.items():
            real_url = template.format(id=world.served.pk, msg=first_message)
            missing_url = template.format(id=MISSING, msg=first_message)
            real = _call(client, method, real_url, body)
            missing = _call(client, method, missing_url, body)
            if _expected(reach, actor_name):
                if real.status_code == 404:
                    failures.append(f"{actor_name} {method} {route}: 404 inside the reach")
            elif _answer(real, real_url) != _answer(missing, missing_url):
                failures.append(
                    f"{actor_name} {method} {route}: {real.status_code} {real.content[:120]!r} "
                    f"!= missing {missing.status_code} {missing.content[:120]!r}"
                )
    assert not failures, "\n".join(failures)
    # Nothing above changed the conversation (bodies were invalid after the access check).
    after = Conversation.objects.values("status", "assignee_id", "waiting_since").get(pk=world.served.pk)
    assert after == before


def test_the_reach_is_exactly_the_expected_people(world):
    from apps.conversations import policy

    reach = {name for name, user in world.actors.items() if policy.allows(user, world.served, policy.VIEW)}
    assert reach == IN_REACH
    assert not OUT_OF_REACH & reach
    act = {name for name, user in world.actors.items() if policy.allows(user, world.served, policy.ACT)}
    assert act == IN_REACH
    manage = {name for name, user in world.actors.items() if policy.allows(user, world.served, policy.MANAGE)}
    assert manage == MANAGE_REACH
    # The live audience of its events is the VIEW reach, no more (the disabled supervisor,
    # whose subtree holds it, is not told).
    told = set(policy.audience(world.served))
    assert told == {world.actors[n].pk for n in IN_REACH}


def test_the_agent_it_was_transferred_from_cannot_send_or_subscribe(world, client):
    client.force_login(world.former)
    r = client.post(
        f"/api/v1/im/conversations/{world.served.pk}/messages/",
        {"body": "还在吗", "client_msg_id": "former-1"},
        content_type="application/json",
    )
    assert r.status_code == 404
    from apps.messaging.models import Message

    assert not Message.objects.filter(conversation=world.served, client_msg_id="former-1").exists()


def test_a_disabled_user_is_refused_by_rest(world, client):
    client.force_login(world.disabled_sup)
    r = client.get(f"/api/v1/conversations/{world.served.pk}/")
    assert r.status_code in (401, 403)
    assert r.status_code == client.get(f"/api/v1/conversations/{MISSING}/").status_code


@pytest.mark.parametrize(
    "url",
    ["/manage/conversations/transfer/", "/manage/routing/leavemessage/", "/api/v1/routing/leave-messages/"],
)
def test_back_office_lists_show_only_what_hangs_off_a_reachable_conversation(world, client, url):
    from apps.conversations.models import Transfer

    south_transfer = Transfer.objects.create(
        tenant=world.a.tenant, conversation=world.south, from_agent=world.south_agent, note="南方转接备注"
    )
    sh_transfer = Transfer.objects.get(conversation=world.served)
    client.force_login(world.a.sup_east)
    body = client.get(url).content.decode()
    assert world.south_leave.name not in body and world.south_leave.contact not in body
    assert south_transfer.note not in body
    if "leave" in url:
        assert world.sh_leave.name in body
    client.force_login(world.a.sup_south)
    body = client.get(url).content.decode()
    assert world.sh_leave.name not in body
    if "transfer" in url:
        assert south_transfer.note in body or str(south_transfer.pk) in body
        assert f"/{sh_transfer.pk}/change/" not in body


def test_back_office_change_pages_answer_outside_the_reach_like_a_missing_id(world, client):
    from apps.conversations.models import Transfer

    sh_transfer = Transfer.objects.get(conversation=world.served)
    client.force_login(world.a.sup_south)
    for url in (
        "/manage/conversations/transfer/{}/change/",
        "/manage/routing/leavemessage/{}/change/",
    ):
        obj_id = sh_transfer.pk if "transfer" in url else world.sh_leave.pk
        real = client.get(url.format(obj_id), follow=True)
        missing = client.get(url.format(MISSING), follow=True)
        assert real.status_code == missing.status_code
        assert real.redirect_chain == [(c.replace(str(MISSING), str(obj_id)), s) for c, s in missing.redirect_chain]
        assert world.sh_leave.contact not in real.content.decode()


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/api/v1/users/", "branch"),
        ("/api/v1/kb/entries/", "branch"),
        ("/api/v1/kb/entries/", "channel"),
        ("/api/v1/kb/alerts/", "conversation"),
    ],
)
def test_filters_answer_another_tenants_id_like_a_missing_one(world, client, url, param):
    theirs = {
        "branch": world.b.sh.pk,
        "channel": world.other_channel.pk,
        "conversation": world.south.pk,  # another branch's conversation: outside sup_east's reach
    }[param]
    client.force_login(world.a.sup_east)
    real = client.get(url, {param: theirs})
    missing = client.get(url, {param: MISSING})
    assert (real.status_code, real.content) == (missing.status_code, missing.content)


def test_partner_api_answers_an_unknown_channel_key_like_a_wrong_api_key(world, client):
    from apps.channels.models import Channel, ChannelKind

    channel = Channel.objects.create(
        tenant=world.a.tenant,
        name="partner",
        kind=ChannelKind.PARTNER,
        config={"api_key": "k-right", "api_secret": "s"},
    )
    headers = {"HTTP_X_KEFU_KEY": "k-wrong", "HTTP_X_KEFU_TIMESTAMP": "1", "HTTP_X_KEFU_SIGNATURE": "x"}
    wrong_key = client.post(f"/api/v1/partner/{channel.key}/messages/", b"{}", "application/json", **headers)
    no_channel = client.post("/api/v1/partner/no-such-key/messages/", b"{}", "application/json", **headers)
    assert wrong_key.status_code == 401
    assert (wrong_key.status_code, wrong_key.content) == (no_channel.status_code, no_channel.content)


def test_marking_a_queued_conversation_read_does_not_make_an_agent_its_participant(world, client):
    """A read mark writes a (silent) participant row: it must not turn a queue preview into the
    right to write into the conversation."""
    from apps.conversations import policy
    from apps.messaging.services import message_create

    queued = world._start(world.channel, served=False)
    assert queued.status == "queued"
    message_create(conversation_id=queued.pk, sender_kind="visitor", body="有人吗", client_msg_id="q-v1")
    assert policy.allows(world.colleague, queued, policy.VIEW)  # the queue they may take from
    client.force_login(world.colleague)
    r = client.post(f"/api/v1/im/conversations/{queued.pk}/read/", {"seq": 1}, content_type="application/json")
    assert r.status_code == 200
    assert not policy.allows(world.colleague, queued, policy.ACT)
    r = client.post(
        f"/api/v1/im/conversations/{queued.pk}/messages/",
        {"body": "抢答", "client_msg_id": "q-1"},
        content_type="application/json",
    )
    assert r.status_code == 404
    assert world.colleague.pk not in policy.audience(world.south)
