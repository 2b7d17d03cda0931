"""docs/protocol.md documents every event, frame and error code the server can produce."""

from pathlib import Path

import pytest

from apps.messaging import protocol
from apps.messaging.events import EVENTS

pytestmark = [pytest.mark.smoke]

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_every_declared_event_is_documented_with_its_fields(event_type):
    assert f"`{event_type}`" in DOC
    for field in EVENTS[event_type]:
        assert f"`{field}`" in DOC or f'"{field}"' in DOC, f"{event_type}.{field} is not documented"


@pytest.mark.parametrize("code", sorted(protocol.ERROR_CODES))
def test_every_error_code_is_documented(code):
    assert f"| `{code}` |" in DOC


@pytest.mark.parametrize(
    "frame",
    sorted(
        set(
            protocol.CLIENT_FRAMES_COMMON
            + protocol.CLIENT_FRAMES_VISITOR
            + protocol.CLIENT_FRAMES_AGENT
            + protocol.SERVER_FRAMES
        )
    ),
)
def test_every_frame_type_is_documented(frame):
    assert f'"type": "{frame}"' in DOC


def test_the_error_codes_the_code_raises_are_all_declared():
    """Every ApplicationError code raised by the IM layer is one of protocol.ERROR_CODES."""
    import re

    root = Path(__file__).resolve().parents[2]
    sources = [*root.joinpath("apps/messaging").rglob("*.py"), root / "apps/customers/services.py"]
    raised = set()
    for path in sources:
        raised |= set(re.findall(r'ApplicationError\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
        raised |= set(re.findall(r'send_error\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
    raised.discard("invalid")  # the REST validation code, documented in the table too
    assert raised - set(protocol.ERROR_CODES) == set()
