"""Reads about staff accounts and what their role lets them reach."""

from __future__ import annotations

from apps.core.errors import PermissionDenied


def require_manager(actor) -> None:
    """Supervisor screens and writes: supervisors and super admins (and platform operators) only."""
    if not (actor and actor.is_authenticated and actor.is_active and actor.is_manager):
        raise PermissionDenied()
