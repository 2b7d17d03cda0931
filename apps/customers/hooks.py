"""Extension points other domains register on, so customers never imports them.

Hooks run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable

_customers_merged: list[Callable] = []


def on_customers_merged(fn: Callable) -> Callable:
    """Called by customer_merge with source= and target= once the source's identities and
    conversations are the target's: rows of other domains that follow the customer move too."""
    _customers_merged.append(fn)
    return fn


def run_customers_merged(*, source, target) -> None:
    for fn in _customers_merged:
        fn(source=source, target=target)
