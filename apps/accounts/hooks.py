"""Extension points other domains register on, so accounts never imports them.

The dispatch layer registers here to record status events and to hand waiting conversations
to an agent who just gained capacity. Hooks run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable

_status_changed: list[Callable] = []
_capacity_changed: list[Callable] = []
_connection_changed: list[Callable] = []


def on_status_changed(fn: Callable) -> Callable:
    _status_changed.append(fn)
    return fn


def on_capacity_changed(fn: Callable) -> Callable:
    _capacity_changed.append(fn)
    return fn


def run_status_changed(agent, *, previous: str, status: str, actor, reason: str) -> None:
    for fn in _status_changed:
        fn(agent=agent, previous=previous, status=status, actor=actor, reason=reason)


def run_capacity_changed(agent) -> None:
    for fn in _capacity_changed:
        fn(agent=agent)


def on_connection_changed(fn: Callable) -> Callable:
    """Presence: called by the agent websocket consumer on connect and disconnect
    (outside any transaction) with agent, channel_name and connected=True/False."""
    _connection_changed.append(fn)
    return fn


def run_connection_changed(agent, *, channel_name: str, connected: bool) -> None:
    for fn in _connection_changed:
        fn(agent=agent, channel_name=channel_name, connected=connected)


_access_changed: list[Callable] = []


def on_access_changed(fn: Callable) -> Callable:
    """`fn(user)`: what this user may reach changed (disabled, role, branch). Inside the
    transaction; listeners act on commit (messaging re-checks the user's open sockets)."""
    _access_changed.append(fn)
    return fn


def run_access_changed(user) -> None:
    for fn in _access_changed:
        fn(user=user)
