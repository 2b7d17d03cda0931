from __future__ import annotations

from datetime import datetime, timedelta

from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Branch
from apps.core.api import IsTenantMember, id_field
from apps.core.errors import ApplicationError, NotFound
from apps.core.params import int_param
from apps.core.replica import replica_reads
from apps.tenants.time import day_range, local_today, tenant_tz
from apps.workbench import selectors, services, stats
from apps.workbench.models import QuickReply


def quick_reply_to_dict(reply: QuickReply, actor) -> dict:
    editable = reply.owner_id == actor.pk or (
        reply.owner_id is None
        and actor.is_manager
        and (
            actor.can_reach_branch(reply.branch)
            if reply.branch_id
            else actor.is_super_admin or actor.is_platform_operator
        )
    )
    return {
        "id": reply.pk,
        "scope": "team" if reply.owner_id is None else "personal",
        "branch_id": reply.branch_id,
        "category": reply.category,
        "title": reply.title,
        "content": reply.content,
        "shortcut": reply.shortcut,
        "use_count": reply.use_count,
        "editable": bool(editable),
    }


class QuickReplyInput(serializers.Serializer):
    title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    content = serializers.CharField(max_length=2000, required=False, allow_blank=True, trim_whitespace=False)
    category = serializers.CharField(max_length=50, required=False, allow_blank=True)
    shortcut = serializers.CharField(max_length=30, required=False, allow_blank=True)
    scope = serializers.ChoiceField(choices=["personal", "team"], required=False, default="personal")
    branch_id = id_field(required=False, allow_null=True)


class QuickReplyListView(APIView):
    """F12: GET the agent's personal and team quick replies (?q= searches, ?scope=personal|team);
    POST creates one (team sets only by supervisors, inside their subtree)."""

    permission_classes = [IsTenantMember]

    def get(self, request):
        qs = selectors.quick_reply_list_for_agent(
            actor=request.user,
            query=request.query_params.get("q", "")[:100],
            scope=request.query_params.get("scope", ""),
        )
        return Response({"results": [quick_reply_to_dict(r, request.user) for r in qs[:200]]})

    def post(self, request):
        ser = QuickReplyInput(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        branch = None
        if data.get("branch_id"):
            branch = Branch.objects.visible_to(request.user).filter(pk=data["branch_id"]).first()
            if branch is None:
                raise NotFound(_("Branch not found."))
        elif data["scope"] == "team" and not (request.user.is_super_admin or request.user.is_platform_operator):
            branch = request.user.branch  # a supervisor's team set defaults to their own subtree
        reply = services.quick_reply_create(
            actor=request.user,
            content=data.get("content", ""),
            title=data.get("title", ""),
            category=data.get("category", ""),
            shortcut=data.get("shortcut", ""),
            team=data["scope"] == "team",
            branch=branch,
        )
        return Response(quick_reply_to_dict(reply, request.user), status=status.HTTP_201_CREATED)


class QuickReplyDetailView(APIView):
    permission_classes = [IsTenantMember]

    def patch(self, request, pk: int):
        reply = selectors.quick_reply_get_for_actor(actor=request.user, quick_reply_id=pk)
        ser = QuickReplyInput(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        reply = services.quick_reply_update(
            actor=request.user,
            quick_reply=reply,
            title=data.get("title"),
            content=data.get("content"),
            category=data.get("category"),
            shortcut=data.get("shortcut"),
        )
        return Response(quick_reply_to_dict(reply, request.user))

    put = patch

    def delete(self, request, pk: int):
        reply = selectors.quick_reply_get_for_actor(actor=request.user, quick_reply_id=pk)
        services.quick_reply_delete(actor=request.user, quick_reply=reply)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuickReplyUseView(APIView):
    permission_classes = [IsTenantMember]

    def post(self, request, pk: int):
        reply = selectors.quick_reply_get_for_actor(actor=request.user, quick_reply_id=pk)
        services.quick_reply_mark_used(actor=request.user, quick_reply=reply)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
