"""Attachments are private: a signed link that expires, or a staff session that may see the
conversation; /media/ serves nothing of a tenant (only tenant logos)."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client, override_settings
from PIL import Image

from apps.messaging.attachments import attachment_create, attachment_message_content
from apps.messaging.serializers import message_to_dict
from apps.messaging.services import message_create
from tests.conftest import PASSWORD


def _png() -> ContentFile:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(buf, format="PNG")
    return ContentFile(buf.getvalue(), name="运单.png")


@pytest.fixture
def sent_image(im_a):
    conversation, customer, token = im_a.conversation()
    attachment = attachment_create(conversation=conversation, upload=_png())
    content_type, payload = attachment_message_content(attachment)
    message = message_create(
        conversation_id=conversation.pk, sender_kind="visitor", body="", content_type=content_type, payload=payload
    )
    return conversation, attachment, message


def _get(client, url):
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body


def test_attachment_is_stored_under_an_unguessable_name_and_never_under_media(sent_image):
    _conversation, attachment, message = sent_image
    name = attachment.file.name
    assert name.startswith("attachments/") and len(name.rsplit("/", 1)[1].split(".")[0]) == 32
    assert default_storage.exists(name)
    assert message.payload["attachment"]["url"] == f"/files/attachments/{attachment.pk}/"
    anonymous = Client()
    assert _get(anonymous, f"/media/{name}")[0] == 404
    assert _get(anonymous, f"/media/tenant-logos/../{name}")[0] in (400, 404)
    assert _get(anonymous, f"/media/tenant-logos/%2e%2e/{name}")[0] in (400, 404)
    assert _get(anonymous, f"/files/attachments/{attachment.pk}/")[0] == 404


def test_signed_link_opens_the_file_until_it_expires(sent_image):
    _conversation, attachment, message = sent_image
    with time_machine.travel(1_900_000_000, tick=False):
        url = message_to_dict(message)["payload"]["attachment"]["url"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"/files/attachments/{attachment.pk}/?") and int(query["exp"][0]) > 1_900_000_000
    anonymous = Client()
    with time_machine.travel(1_900_000_000 + 3600, tick=False):
        status, body = _get(anonymous, url)
        assert status == 200 and body.startswith(b"\x89PNG")
        forged = url.replace(query["sig"][0], "0" * len(query["sig"][0]))
        assert _get(anonymous, forged)[0] == 404
        other_id = url.replace(f"/attachments/{attachment.pk}/", f"/attachments/{attachment.pk + 1}/")
        assert _get(anonymous, other_id)[0] == 404
        longer = url.replace(query["exp"][0], str(int(query["exp"][0]) + 86400))
        assert _get(anonymous, longer)[0] == 404
    with time_machine.travel(int(query["exp"][0]) + 1, tick=False):
        assert _get(anonymous, url)[0] == 410


def test_staff_session_opens_what_they_may_see_and_nothing_else(sent_image, org_a, org_b):
    _conversation, attachment, _message = sent_image
    path = f"/files/attachments/{attachment.pk}/"
    agent = Client()
    agent.login(username=org_a.agent_sh.username, password=PASSWORD)
    assert _get(agent, path)[0] == 200
    stranger = Client()  # an agent of the same tenant who does not serve the conversation
    stranger.login(username=org_a.agent_south.username, password=PASSWORD)
    assert _get(stranger, path)[0] == 404
    other_tenant = Client()
    other_tenant.login(username=org_b.admin.username, password=PASSWORD)
    assert _get(other_tenant, path)[0] == 404
    assert _get(other_tenant, f"/files/attachments/{attachment.pk + 1000}/")[0] == 404


def test_nginx_sends_the_bytes_when_configured(sent_image, org_a):
    _conversation, attachment, _message = sent_image
    agent = Client()
    agent.login(username=org_a.agent_sh.username, password=PASSWORD)
    with override_settings(PRIVATE_MEDIA_ACCEL_PREFIX="/_protected/"):
        response = agent.get(f"/files/attachments/{attachment.pk}/")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/_protected/{attachment.file.name}"
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"


def test_tenant_logos_stay_public(db):
    from django.conf import settings

    name = default_storage.save("tenant-logos/logo-test.png", ContentFile(b"\x89PNG logo"))
    try:
        status, body = _get(Client(), settings.MEDIA_URL + name)
        assert status == 200 and body == b"\x89PNG logo"
    finally:
        default_storage.delete(name)
