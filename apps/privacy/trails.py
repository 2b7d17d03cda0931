"""Visitor trails (apps.visitors: one Visit per browsing session, its PageViews): expired by
retention and erased with the customer. A deployment without that app has no trail to keep."""

from __future__ import annotations

import datetime as dt
import time

from django.apps import apps
from django.db import transaction


def _visit_model():
    if not apps.is_installed("apps.visitors"):
        return None
    return apps.get_model("visitors", "Visit")


def expire(*, tenant_id: int, before: dt.datetime, deadline: float, batch: int) -> int:
    """Delete visits (with their page views) whose last page was seen before `before`."""
    Visit = _visit_model()
    if Visit is None:
        return 0
    done = 0
    while time.monotonic() < deadline:
        ids = list(
            Visit.objects.filter(tenant_id=tenant_id, last_seen_at__lt=before)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        with transaction.atomic():
            Visit.objects.filter(pk__in=ids).delete()
        done += len(ids)
    return done


def erase_customer(*, tenant_id: int, customer_id: int) -> int:
    Visit = _visit_model()
    if Visit is None:
        return 0
    return Visit.objects.filter(tenant_id=tenant_id, customer_id=customer_id).delete()[0]


def for_customer(*, customer_id: int) -> list[dict]:
    """The customer's visits and pages, for their access file."""
    Visit = _visit_model()
    if Visit is None:
        return []
    out = []
    for visit in Visit.objects.filter(customer_id=customer_id).prefetch_related("page_views").order_by("pk"):
        out.append(
            {
                "started_at": visit.created_at.isoformat(),
                "landing_url": visit.landing_url,
                "referrer": visit.referrer,
                "device": visit.device,
                "os": visit.os,
                "browser": visit.browser,
                "language": visit.language,
                "region": visit.region,
                "pages": [
                    {"url": p.url, "title": p.title, "at": p.created_at.isoformat(), "seconds": p.seconds}
                    for p in visit.page_views.all()
                ],
            }
        )
    return out
