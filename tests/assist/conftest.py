from __future__ import annotations

import pytest

from apps.assist import services
from tests.assist.ai_server import ChatCompletionsServer
from tests.messaging.conftest import IM, im_a, im_b  # noqa: F401  (fixtures)


@pytest.fixture
def ai_server():
    server = ChatCompletionsServer()
    yield server
    server.close()


def switch_on(org, server, **extra):
    values = {"is_enabled": True, "api_url": server.url, "model": "qwen-plus", "api_key": "sk-test-0123456789abcd"}
    return services.assist_settings_update(actor=org.admin, tenant_id=org.tenant.pk, **(values | extra))
