"""Visitor tokens: who a widget/app connection is, signed by us, checked without a query.

A token carries the tenant, channel and customer ids and expires (IM_VISITOR_TOKEN_MAX_AGE,
default 24 h); the browser gets a new one from POST /api/v1/visitor/sessions/ on each page load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError

TOKEN_SALT = "kefu.im.visitor-token"


def token_max_age() -> int:
    return int(getattr(settings, "IM_VISITOR_TOKEN_MAX_AGE", 24 * 3600))


@dataclass(frozen=True)
class Visitor:
    """The authenticated principal of a visitor connection or request.

    Not a staff account: `is_active` is False so nothing scoped with `visible_to()` ever
    shows a visitor staff data, and staff-only permission classes refuse it.
    """

    tenant_id: int
    channel_id: int
    customer_id: int
    is_authenticated: bool = True
    is_active: bool = False
    is_anonymous: bool = False
    is_staff: bool = False
    is_visitor: bool = True
    pk: None = None


def visitor_token_issue(*, tenant_id: int, channel_id: int, customer_id: int) -> tuple[str, int]:
    """Return (token, expires_at unix seconds)."""
    token = signing.dumps({"t": tenant_id, "ch": channel_id, "c": customer_id}, salt=TOKEN_SALT, compress=True)
    return token, int(time.time()) + token_max_age()


def visitor_token_load(token: str | None) -> Visitor:
    if not token:
        raise ApplicationError("unauthorized", _("A visitor token is required."), status=401)
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=token_max_age())
    except signing.SignatureExpired:
        raise ApplicationError("token_expired", _("The visitor token has expired."), status=401)
    except signing.BadSignature:
        raise ApplicationError("unauthorized", _("The visitor token is not valid."), status=401)
    try:
        return Visitor(tenant_id=int(data["t"]), channel_id=int(data["ch"]), customer_id=int(data["c"]))
    except (KeyError, TypeError, ValueError):
        raise ApplicationError("unauthorized", _("The visitor token is not valid."), status=401)
