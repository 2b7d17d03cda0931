"""Extension points on message creation, so messaging never imports the domains above it.

`on_message_created` callbacks run inside the sending transaction with the conversation row
locked (keep them cheap: mark first response, enqueue work with transaction.on_commit).
"""

from __future__ import annotations

from collections.abc import Callable

_message_created: list[Callable] = []


def on_message_created(fn: Callable) -> Callable:
    _message_created.append(fn)
    return fn


def run_message_created(*, conversation, message) -> None:
    for fn in _message_created:
        fn(conversation=conversation, message=message)
