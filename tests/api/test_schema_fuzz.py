"""Property-based API testing over the OpenAPI schema (schemathesis), as an agent and as a
supervisor: no server error, no response the schema does not describe. Bounded for CI."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.middleware.csrf import _get_new_csrf_string
from hypothesis import HealthCheck, Phase, settings

from tests.support.live import session_key_for

CHECKS = None  # filled in lazily: schemathesis' response checks


@pytest.fixture
def api_schema(db):
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.renderers import JSONRenderer

    raw = json.loads(JSONRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = get_wsgi_application()
    # As Django's test client does: a request must not close the test's database connection.
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


def _credentials(user) -> tuple[dict, dict]:
    from django.conf import settings as django_settings

    token = _get_new_csrf_string()
    cookies = {django_settings.SESSION_COOKIE_NAME: session_key_for(user), django_settings.CSRF_COOKIE_NAME: token}
    return cookies, {"X-CSRFToken": token}


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


FUZZ = settings(
    max_examples=3,
    phases=[Phase.generate],  # no coverage/explicit phases: a bounded number of calls per operation
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _call(case, user):
    cookies, headers = _credentials(user)
    case.call_and_validate(cookies=cookies, headers=headers, checks=_checks(), excluded_checks=None)


@schema.parametrize()
@FUZZ
def test_api_as_an_agent(case, org_a, settings):
    settings.RATELIMIT_ENABLE = False
    _call(case, org_a.agent_sh)


@schema.parametrize()
@FUZZ
def test_api_as_a_supervisor(case, org_a, settings):
    settings.RATELIMIT_ENABLE = False
    _call(case, org_a.sup_east)
