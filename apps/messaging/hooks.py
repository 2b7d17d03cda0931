"""Extension points on message creation, so messaging never imports the domains above it.

Two kinds, so nothing slow ever runs while a conversation row is locked:

- `on_messages_written(messages)` runs inside the sending transaction, rows locked, once per
  batch. Only for writes that must commit with the message or not at all (an outbox row: the
  outbound delivery of a WeChat reply). It must cost nothing for a message that needs no such
  row (decide from memory, not from a query).
- `on_messages_committed(messages)` runs after the commit (transaction.on_commit), once per
  batch: enqueue work (one Celery task for the whole batch where possible), never wait on the
  network. Keyword alerts, the search index, the bot, offline push and dispatch listen here.
  A listener may run again, seconds later, for the same messages (apps/messaging/outbox.py: the
  batch's sender may never have run it), with the conversation as it is then: it must be safe to
  run twice and judge from the message, not from the moment.

Each message has its (locked, updated) `conversation` attached.
"""

from __future__ import annotations

from collections.abc import Callable

_written: list[Callable] = []
_committed: list[Callable] = []


def on_messages_written(fn: Callable) -> Callable:
    _written.append(fn)
    return fn


def on_messages_committed(fn: Callable) -> Callable:
    _committed.append(fn)
    return fn


def run_messages_written(messages: list) -> None:
    for fn in _written:
        fn(messages=messages)


def run_messages_committed(messages: list) -> None:
    for fn in _committed:
        fn(messages=messages)
