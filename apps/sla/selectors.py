"""Reads of service levels, scoped like everything else (visible_to)."""

from __future__ import annotations

from typing import overload

from apps.sla.models import SlaClock


@overload
def clock_to_dict(clock: SlaClock) -> dict: ...


@overload
def clock_to_dict(clock: None) -> None: ...


def clock_to_dict(clock: SlaClock | None) -> dict | None:
    """What the workbench needs to colour a conversation: instants, never durations (the client
    compares them with the server's time; working hours are already in them)."""
    if clock is None:
        return None

    def iso(v):
        return v.isoformat() if v else None

    return {
        "policy_id": clock.policy_id,
        "first_response_warn_at": iso(clock.first_response_warn_at),
        "first_response_due": iso(clock.first_response_due),
        "first_response_at": iso(clock.first_response_at),
        "first_response_breached": clock.first_response_breached,
        "resolution_warn_at": iso(clock.resolution_warn_at),
        "resolution_due": iso(clock.resolution_due),
        "resolution_breached": clock.resolution_breached,
        "resolution_paused": clock.resolution_paused_at is not None,
    }


def clocks_for(conversation_ids: list[int]) -> dict[int, dict]:
    """One query for a list of conversations (the workbench list)."""
    rows = SlaClock.objects.filter(conversation_id__in=list(conversation_ids))
    return {c.conversation_id: clock_to_dict(c) for c in rows}
