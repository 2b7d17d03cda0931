"""Extension points of the conversation lifecycle.

`on_conversation_started(conversation, actor)` runs inside the creating transaction, for
listeners (the bot's greeting). Starting a conversation is dispatch's own service
(`apps.routing.intake.conversation_intake`: gate, open, route, assign), so dispatch does not
listen here.
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


# --- dispatch extension points (apps.routing registers on all of these) ---------------------

_before_start: list[Callable] = []
_requeued: list[Callable] = []
_capacity_freed: list[Callable] = []


def before_conversation_start(fn: Callable) -> Callable:
    """`fn(channel, customer, status)` may raise ApplicationError to refuse a bot hand-off
    (rate-limit switch, off hours, queue full). Runs before anything is written. (A new
    conversation is gated by the intake service itself.)"""
    _before_start.append(fn)
    return fn


def run_before_conversation_start(*, channel, customer, status: str) -> None:
    for fn in _before_start:
        fn(channel=channel, customer=customer, status=status)


def on_conversation_requeued(fn: Callable) -> Callable:
    """`fn(conversation, text)`: a conversation entered the queue again (bot hand-off,
    agent timeout). Runs inside the transaction with the conversation row locked."""
    _requeued.append(fn)
    return fn


def run_conversation_requeued(*, conversation, text: str = "") -> None:
    for fn in _requeued:
        fn(conversation=conversation, text=text)


def on_agent_capacity_freed(fn: Callable) -> Callable:
    """`fn(agent_id, tenant_id)`: an agent's load went down (close, transfer). Runs inside the
    transaction; listeners defer their work to on_commit."""
    _capacity_freed.append(fn)
    return fn


def run_agent_capacity_freed(*, agent_id: int, tenant_id: int) -> None:
    for fn in _capacity_freed:
        fn(agent_id=agent_id, tenant_id=tenant_id)


_assigned: list[Callable] = []


def on_conversation_assigned(fn: Callable) -> Callable:
    """`fn(conversation, agent)`: inside the assigning transaction (round-robin bookkeeping)."""
    _assigned.append(fn)
    return fn


def run_conversation_assigned(*, conversation, agent) -> None:
    for fn in _assigned:
        fn(conversation=conversation, agent=agent)


_agent_visibility: list[Callable] = []


def extra_agent_visibility(fn: Callable) -> Callable:
    """Register fn(user) -> Q: more conversations an agent may see beyond their branch subtree
    (dispatch registers the queue the agent may take from, which can sit on an ancestor branch)."""
    _agent_visibility.append(fn)
    return fn


def agent_visibility_qs(user) -> list:
    return [fn(user) for fn in _agent_visibility]


_agent_audience: list[Callable] = []


def extra_agent_audience(fn: Callable) -> Callable:
    """Register fn(conversation) -> Q on User: the agents `extra_agent_visibility` lets see this
    conversation (the inverse of that rule, so the access policy can name its live audience)."""
    _agent_audience.append(fn)
    return fn


def agent_audience_qs(conversation) -> list:
    return [fn(conversation) for fn in _agent_audience]


_closed: list[Callable] = []


def on_conversation_closed(fn: Callable) -> Callable:
    """`fn(conversation)`: a conversation closed. Runs inside the closing transaction; listeners
    defer network work to on_commit (e.g. ending the session on the customer's platform)."""
    _closed.append(fn)
    return fn


def run_conversation_closed(*, conversation) -> None:
    for fn in _closed:
        fn(conversation=conversation)


_queue_changed: list[Callable] = []


def on_queue_changed(fn: Callable) -> Callable:
    """`fn(tenant_id)`: a conversation entered or left the tenant's queue (every waiting
    visitor's place may have moved). Inside the transaction; listeners defer to on_commit."""
    _queue_changed.append(fn)
    return fn


def run_queue_changed(*, tenant_id: int) -> None:
    for fn in _queue_changed:
        fn(tenant_id=tenant_id)


_lifecycle: list[Callable] = []


def on_lifecycle_event(fn: Callable) -> Callable:
    """`fn(event)`: a ConversationEvent row was written (transfer requested, closed, requeued ...).
    Inside the writing transaction, often under the conversation's lock: listeners only register
    on_commit work (AI assistance's summary of a transfer or close)."""
    _lifecycle.append(fn)
    return fn


def run_lifecycle_event(*, event) -> None:
    for fn in _lifecycle:
        fn(event=event)
