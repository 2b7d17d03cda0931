"""The read-routing rule (apps/core/replica.py), the /healthz additions and the retryable
'unavailable' answer. The rule's effect against a real replica (reads served by it, fallback when
it lags or stops) is proved in tests/topology/."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError
from django.urls import path

from apps.core import replica
from apps.core.api import exception_handler
from apps.core.replica import ReplicaRouter, ReplicaState, decide, read_alias, replica_reads

pytestmark = [pytest.mark.smoke]

FRESH = ReplicaState(True, reachable=True, replicating=True, lag_seconds=0.4, max_lag_seconds=5)


@pytest.mark.parametrize(
    ("state", "in_scope", "in_transaction", "label", "expected"),
    [
        (FRESH, True, False, "conversations.conversation", "replica"),
        (FRESH, False, False, "conversations.conversation", "default"),  # not asked for: primary
        (FRESH, True, True, "conversations.conversation", "default"),  # inside a write transaction
        (FRESH, True, False, "sessions.session", "default"),  # a login just made
        (FRESH, True, False, "reports.exportjob", "default"),  # a job just created
        (FRESH, True, False, "accounts.user", "default"),
        (ReplicaState(True, True, True, 5.0, 5), True, False, "", "replica"),  # at the bound
        (ReplicaState(True, True, True, 5.1, 5), True, False, "", "default"),  # behind the bound
        (ReplicaState(True, True, True, None, 5), True, False, "", "default"),  # lag unknown
        (ReplicaState(True, True, False, 0.0, 5), True, False, "", "default"),  # not replicating
        (ReplicaState(True, False, False, None, 5), True, False, "", "default"),  # down
        (ReplicaState(False), True, False, "", "default"),  # none configured
    ],
)
def test_reads_go_to_the_replica_only_when_asked_fresh_and_outside_a_transaction(
    state, in_scope, in_transaction, label, expected
):
    assert decide(state, in_scope=in_scope, primary_in_transaction=in_transaction, model_label=label) == expected


@pytest.mark.django_db
def test_without_a_replica_every_read_and_write_uses_the_primary():
    from apps.conversations.models import Conversation

    router = ReplicaRouter()
    with replica_reads():
        assert read_alias(Conversation) == "default"
        assert router.db_for_read(Conversation) == "default"
        assert Conversation.objects.all().db == "default"
    assert router.db_for_write(Conversation) == "default"
    assert router.allow_migrate("default", "conversations") is True
    assert router.allow_migrate("replica", "conversations") is False
    assert replica.replica_state().configured is False


@pytest.mark.django_db
def test_healthz_shows_every_channel_layer_shard_and_no_replica_when_none_is_configured(client, settings):
    hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "hosts": [hosts[0], hosts[0]]},
        }
    }
    body = client.get("/healthz").json()
    assert "replica" not in body["components"]
    shards = body["components"]["channel_layer"]["shards"]
    assert len(shards) == 2 and all(s["ok"] for s in shards)
    assert all("password" not in json.dumps(s) for s in shards)


def test_database_outage_is_a_retryable_503_not_a_server_error():
    response = exception_handler(OperationalError(2006, "MySQL server has gone away"), {})
    assert response.status_code == 503
    assert response.data["error"]["code"] == "unavailable"
    assert response["Retry-After"] == "1"


def _boom(request):
    raise OperationalError(2002, "Can't connect to MySQL server")


def _bug(request):
    raise ValueError("a bug")


urlpatterns = [path("boom/", _boom), path("api/boom/", _boom), path("bug/", _bug)]
handler500 = "apps.core.views.server_error"


@pytest.mark.urls(__name__)
def test_a_page_during_a_database_outage_is_a_503_that_retries_not_the_bug_page(client):
    client.raise_request_exception = False
    page = client.get("/boom/")
    assert page.status_code == 503 and page["Retry-After"] == "5"
    assert "服务暂时不可用" in page.content.decode()
    api = client.get("/api/boom/")
    assert api.status_code == 503 and api.json()["error"]["code"] == "unavailable"
    assert client.get("/bug/").status_code == 500
