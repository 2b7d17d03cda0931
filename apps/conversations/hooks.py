"""Extension points of the conversation lifecycle.

`on_conversation_started(conversation, initial_status)` runs inside the creating transaction;
the dispatch layer (apps.routing) registers here to route, queue or assign the new conversation.
"""

from __future__ import annotations

from collections.abc import Callable

_started: list[Callable] = []


def on_conversation_started(fn: Callable) -> Callable:
    _started.append(fn)
    return fn


def run_conversation_started(*, conversation, actor=None) -> None:
    for fn in _started:
        fn(conversation=conversation, actor=actor)
