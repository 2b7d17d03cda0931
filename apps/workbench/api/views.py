from __future__ import annotations

from datetime import datetime, timedelta

from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import IsTenantMember
from apps.core.errors import ApplicationError
from apps.core.params import int_param
from apps.core.replica import replica_reads
from apps.tenants.time import day_range, local_today, tenant_tz
from apps.workbench import selectors, stats


class CustomerPanelView(APIView):
    """F11: the customer of a conversation, what they told us and their past conversations."""

    permission_classes = [IsTenantMember]

    def get(self, request, conversation_id: int):
        from apps.privacy.services import customer_view_record

        panel = selectors.customer_panel(actor=request.user, conversation_id=conversation_id)
        customer_view_record(actor=request.user, customer_id=panel["customer"]["id"], where="workbench")
        return Response(panel)


def parse_range(params, *, tz, default_days: int = 1) -> tuple[datetime, datetime]:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (inclusive days, the tenant's time zone `tz`); default: the
    tenant's today (decided here, never by the browser)."""
    today = local_today(tz)
    raw_from, raw_to = params.get("from") or "", params.get("to") or ""
    try:
        d_from = parse_date(raw_from) if raw_from else today - timedelta(days=default_days - 1)
        d_to = parse_date(raw_to) if raw_to else today
    except ValueError:  # well formed but impossible, like 2026-13-45
        d_from = d_to = None
    if d_from is None or d_to is None:
        raise ApplicationError("invalid_date", _("Dates must look like 2026-01-31."))
    if d_to < d_from:
        raise ApplicationError("invalid_range", _("The end date is before the start date."))
    if (d_to - d_from).days > 366:
        raise ApplicationError("range_too_long", _("Choose at most one year."))
    try:
        return day_range(tz, d_from, d_to)
    except OverflowError as exc:
        raise ApplicationError("invalid_date", _("Dates must look like 2026-01-31.")) from exc


def history_filters(params, *, tz) -> dict:
    start, end = (None, None)
    if params.get("from") or params.get("to"):
        start, end = parse_range(params, tz=tz)
    satisfaction = params.get("satisfaction", "")
    if satisfaction not in {"", "none", "good", "bad", "1", "2", "3", "4", "5"}:
        raise ApplicationError("invalid_filter", _("Unknown satisfaction filter."))
    return {
        "date_from": start,
        "date_to": end,
        "channel_id": int_param(params.get("channel"), name="channel"),
        "nickname": (params.get("nickname") or "")[:100],
        "satisfaction": satisfaction,
        "tag_id": int_param(params.get("tag"), name="tag"),
    }


def history_row(conv) -> dict:
    rating = getattr(conv, "rating", None) if hasattr(conv, "rating") else None
    return {
        "id": conv.pk,
        "customer_name": str(conv.customer),
        "channel": conv.channel.name,
        "channel_id": conv.channel_id,
        "agent": conv.assignee.name if conv.assignee_id else "",
        "created_at": conv.created_at.isoformat(),
        "closed_at": conv.closed_at.isoformat() if conv.closed_at else None,
        "preview": conv.last_message_preview,
        "score": rating.score if rating else None,
        "tags": [t.name for t in conv.tags.all()],
    }


class HistoryView(APIView):
    """F15: my past conversations, filtered by time, channel, nickname and satisfaction."""

    permission_classes = [IsTenantMember]

    @replica_reads()
    def get(self, request):
        qs = selectors.history_list(
            actor=request.user, **history_filters(request.query_params, tz=tenant_tz(user=request.user))
        )
        offset = int_param(request.query_params.get("offset"), name="offset") or 0
        limit = min(int_param(request.query_params.get("limit"), name="limit") or 50, 200)
        if offset < 0 or limit < 1:
            raise ApplicationError("invalid_filter", _("offset and limit must not be negative."))
        total = qs.count()
        return Response({"count": total, "results": [history_row(c) for c in qs[offset : offset + limit]]})


class TranscriptView(APIView):
    """F16: one past conversation, every message."""

    permission_classes = [IsTenantMember]

    def get(self, request, conversation_id: int):
        from apps.messaging.serializers import message_to_dict

        conv, messages = selectors.transcript(actor=request.user, conversation_id=conversation_id)
        return Response({"conversation": history_row(conv), "messages": [message_to_dict(m) for m in messages]})


class ConversationSearchView(APIView):
    """Workbench search: ?q= (at least 2 characters) over the customer's nickname and phone and
    the messages of the conversations I served; at most 20, newest first."""

    permission_classes = [IsTenantMember]

    def get(self, request):
        query = request.query_params.get("q", "")
        rows = selectors.conversation_search(actor=request.user, query=query)
        return Response(
            {
                "results": [
                    {
                        "id": c.pk,
                        "status": c.status,
                        "customer_name": str(c.customer),
                        "channel_name": c.channel.name,
                        "created_at": c.created_at.isoformat(),
                        "last_message_preview": c.last_message_preview,
                    }
                    for c in rows
                ]
            }
        )


class MyStatsView(APIView):
    """F18–F20: my numbers for today or ?from=&to=."""

    permission_classes = [IsTenantMember]

    @replica_reads()
    def get(self, request):
        start, end = parse_range(request.query_params, tz=tenant_tz(user=request.user))
        return Response(stats.agent_stats(actor=request.user, start=start, end=end))
