"""Whole numbers from query strings, form posts and JSON bodies: one parser for every view.

Ids are BIGINT, so anything outside 0 .. 2^63-1 is "not valid", never a database overflow.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError

MAX_ID = 2**63 - 1


def int_param(value, *, name: str, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """None when absent or empty; a 400 (`invalid_filter`) naming the field when the value is not
    a whole number between `minimum` and `maximum`."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not minimum <= number <= maximum:
        raise ApplicationError("invalid_filter", _("%(name)s must be a number.") % {"name": name})
    return number


def int_param_or_none(value) -> int | None:
    """The same number, or None for anything that is not one (forms that fall back to a default)."""
    try:
        return int_param(value, name="")
    except ApplicationError:
        return None
