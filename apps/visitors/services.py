"""Writes about browsing visitors: page views, pings, leaving, linking a visit to the customer.

The widget's loader reports each page the visitor opens (and pings while the page is visible)
when the channel tracks visitors and the visitor has not refused: the channel's mode, the site's
consent call and the browser's Global Privacy Control / Do Not Track are all respected (the
loader does not send, and the server refuses what it should not have been sent).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.channels.models import Channel
from apps.channels.widget import VisitorTracking, tracking_mode
from apps.core.errors import ApplicationError
from apps.visitors.context import device_of, region_of
from apps.visitors.models import TITLE_MAX, URL_MAX, PageView, Visit

VISIT_TIMEOUT = timedelta(minutes=30)  # silence after which the next page starts a new visit
ONLINE_SECONDS = 45  # a visitor whose page pinged this recently is "on the site"
PING_SECONDS = 15  # how often the loader pings while the page is visible (VISITOR_PING_SECONDS)
PING_WRITE_SECONDS = 10  # pings closer together than this write nothing
MAX_PAGES_STORED = 200  # per visit; later pages only move the counters
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def ping_seconds() -> int:
    from django.conf import settings

    return int(getattr(settings, "VISITOR_PING_SECONDS", PING_SECONDS))


def tracking_allowed(channel: Channel, *, consent: bool) -> bool:
    mode = tracking_mode(channel)
    return mode == VisitorTracking.ON or (mode == VisitorTracking.CONSENT and consent)


def clean_key(value: str) -> str:
    value = (value or "").strip()
    if not _KEY.match(value):
        raise ApplicationError("invalid_visitor", _("The visitor id is not valid."))
    return value


def clean_page_url(value: str, *, origin: str | None) -> str:
    """A page of the site that reports it: http(s), on the request's origin, no fragment."""
    try:
        parts = urlsplit((value or "").strip())
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApplicationError("invalid_url", _("The page address is not valid."))
    if origin and f"{parts.scheme}://{parts.netloc}".lower() != origin.rstrip("/").lower():
        raise ApplicationError("invalid_url", _("The page address is not on this site."))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))[:URL_MAX]


def clean_referrer(value: str) -> str:
    try:
        parts = urlsplit((value or "").strip())
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))[:URL_MAX]


def clean_text(value: str, limit: int) -> str:
    return _CONTROL.sub(" ", str(value or "")).strip()[:limit]


def _current_visit(channel: Channel, visitor_key: str, *, lock: bool = False) -> Visit | None:
    qs = Visit.objects.filter(channel=channel, visitor_key=visitor_key).order_by("-number")
    if lock:
        qs = qs.select_for_update()
    return qs.first()


def _close_last_page(visit: Visit, now) -> None:
    page = PageView.objects.filter(visit=visit, seconds__isnull=True).order_by("-id").first()
    if page is not None:
        seconds = max(0, min(int((now - page.created_at).total_seconds()), 24 * 3600))
        PageView.objects.filter(pk=page.pk).update(seconds=seconds)


def page_view_record(
    *,
    channel: Channel,
    visitor_key: str,
    url: str,
    title: str = "",
    referrer: str = "",
    language: str = "",
    user_agent: str = "",
    ip: str = "",
    origin: str | None = None,
    consent: bool = False,
) -> Visit | None:
    """The visitor opened a page. Returns the visit, or None when it may not be recorded."""
    if not tracking_allowed(channel, consent=consent):
        return None
    visitor_key = clean_key(visitor_key)
    url = clean_page_url(url, origin=origin)
    title = clean_text(title, TITLE_MAX)
    for _attempt in range(2):
        try:
            return _page_view(channel, visitor_key, url, title, referrer, language, user_agent, ip)
        except IntegrityError:
            continue  # another tab of the same browser opened the visit at the same moment
    raise ApplicationError("busy", _("Please try again."), status=409)


def _page_view(channel, visitor_key, url, title, referrer, language, user_agent, ip) -> Visit:
    now = timezone.now()
    with transaction.atomic():
        visit = _current_visit(channel, visitor_key, lock=True)
        if visit is not None and now - visit.last_seen_at < VISIT_TIMEOUT:
            _close_last_page(visit, now)
            visit.pages += 1
            visit.current_url, visit.current_title = url, title
            visit.last_seen_at, visit.left_at = now, None
            visit.save(update_fields=["pages", "current_url", "current_title", "last_seen_at", "left_at"])
        else:
            device, os_name, browser = device_of(user_agent)
            visit = Visit.objects.create(
                tenant_id=channel.tenant_id,
                channel=channel,
                visitor_key=visitor_key,
                customer_id=visit.customer_id if visit is not None else None,
                number=(visit.number + 1) if visit is not None else 1,
                landing_url=url,
                referrer=clean_referrer(referrer),
                current_url=url,
                current_title=title,
                device=device,
                os=os_name,
                browser=browser,
                language=clean_text(language, 35),
                region=region_of(ip),
                last_seen_at=now,
            )
        if visit.pages <= MAX_PAGES_STORED:
            PageView.objects.create(tenant_id=channel.tenant_id, visit=visit, url=url, title=title)
        _publish_page(visit)
    return visit


def visit_ping(*, channel: Channel, visitor_key: str) -> Visit | None:
    """The page is still open and visible. Writes at most every PING_WRITE_SECONDS."""
    visitor_key = clean_key(visitor_key)
    now = timezone.now()
    visit = _current_visit(channel, visitor_key)
    if visit is None or now - visit.last_seen_at >= VISIT_TIMEOUT:
        return None
    if now - visit.last_seen_at >= timedelta(seconds=PING_WRITE_SECONDS) or visit.left_at is not None:
        Visit.objects.filter(pk=visit.pk).update(last_seen_at=now, left_at=None)
        visit.last_seen_at, visit.left_at = now, None
    return visit


def visit_leave(*, channel: Channel, visitor_key: str) -> Visit | None:
    """The page was closed (or the visitor navigated away: the next page clears this)."""
    from apps.visitors import tasks

    visitor_key = clean_key(visitor_key)
    now = timezone.now()
    with transaction.atomic():
        visit = _current_visit(channel, visitor_key, lock=True)
        if visit is None or visit.left_at is not None or now - visit.last_seen_at >= VISIT_TIMEOUT:
            return visit
        _close_last_page(visit, now)
        visit.left_at = now
        visit.save(update_fields=["left_at"])
        # Navigating to the next page sends a leave first: say "left" only if no page follows.
        visit_id, pages = visit.pk, visit.pages
        transaction.on_commit(lambda: tasks.announce_left.apply_async((visit_id, pages), countdown=5))
    return visit


def visits_link_customer(*, channel: Channel, visitor_key: str, customer) -> int:
    """The visitor started chatting: this browser's visits on the channel belong to the customer."""
    visitor_key = clean_key(visitor_key)
    if customer.tenant_id != channel.tenant_id:
        raise ApplicationError("not_found", _("Not found."), status=404)
    with transaction.atomic():
        linked = Visit.objects.filter(channel=channel, visitor_key=visitor_key, customer__isnull=True).update(
            customer=customer
        )
        visit = _current_visit(channel, visitor_key)
        if visit is not None and visit.customer_id == customer.pk:
            _publish_page(visit)
    return linked


def announce_left(*, visit_id: int, pages: int) -> bool:
    """Tell watchers the visitor left, if no page came after the leave beacon."""
    visit = Visit.objects.filter(pk=visit_id, pages=pages, left_at__isnull=False).first()
    if visit is None:
        return False
    from apps.visitors.events import publish_visit

    publish_visit(visit, etype="visitor.left")
    return True


def _publish_page(visit: Visit) -> None:
    from apps.visitors.events import publish_visit

    publish_visit(visit, etype="visitor.page")
