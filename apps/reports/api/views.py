"""REST API of the supervisor centre: parse, call one service, render."""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import IsTenantMember, id_field
from apps.core.files import private_file_response
from apps.reports import exports, services
from apps.reports.models import ExportJob, FollowUpOutcome, FollowUpTask


class ExportCreateInput(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "xlsx"], default="csv")
    include_transcript = serializers.BooleanField(default=False)
    filters = serializers.DictField(required=False, help_text="a history filter (date_from, date_to, channel ...)")


EXPORT = inline_serializer(
    "Export",
    {
        "id": serializers.IntegerField(),
        "format": serializers.CharField(),
        "status": serializers.CharField(),
        "progress": serializers.IntegerField(),
        "total": serializers.IntegerField(),
        "done": serializers.IntegerField(),
        "filters": serializers.DictField(),
        "include_transcript": serializers.BooleanField(),
        "error": serializers.CharField(),
        "created_at": serializers.CharField(allow_null=True),
        "expires_at": serializers.CharField(allow_null=True),
        "download_url": serializers.CharField(allow_null=True),
        "transcript_url": serializers.CharField(allow_null=True),
    },
)


class ExportListCreateView(APIView):
    """GET: my recent exports. POST {kind: history|report, format: csv|xlsx, include_transcript,
    filters: {history filter} or {from, to, grain, dimension, branch}}."""

    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(
        responses=inline_serializer("ExportList", {"results": serializers.ListField(child=EXPORT)}), tags=["exports"]
    )
    def get(self, request):
        qs = ExportJob.objects.filter(tenant_id=request.user.tenant_id, requested_by=request.user)[:50]
        return Response({"results": [exports.export_to_dict(j) for j in qs]})

    @extend_schema(request=ExportCreateInput, responses={201: EXPORT}, tags=["exports"])
    def post(self, request):
        data = request.data if isinstance(request.data, dict) else {}
        filters = data.get("filters") or {}
        if not isinstance(filters, dict):
            filters = {}
        job = exports.export_create(
            actor=request.user,
            filters=filters,
            format=data.get("format") or "csv",
            include_transcript=bool(data.get("include_transcript")),
            kind=data.get("kind") or "history",
        )
        job.refresh_from_db()
        return Response(exports.export_to_dict(job), status=status.HTTP_201_CREATED)


class ExportDetailView(APIView):
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses=EXPORT, tags=["exports"])
    def get(self, request, pk: int):
        return Response(exports.export_to_dict(exports.export_get_for_actor(actor=request.user, job_id=pk)))


class ExportDownloadView(APIView):
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(
        parameters=[OpenApiParameter("transcript", str, enum=["1"], required=False)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        tags=["exports"],
    )
    def get(self, request, pk: int):
        _job, field, name = exports.export_open_download(
            actor=request.user, job_id=pk, transcript=request.GET.get("transcript") == "1"
        )
        response = private_file_response(field, filename=name, as_attachment=True)
        response["Cache-Control"] = "private, no-store"
        return response


class ReportView(APIView):
    """GET ?from=&to=&grain=d|h&dimension=agent|branch|channel|tag&branch=: the report table of
    the page, every figure by apps.reports.metrics (durations in seconds, rates in percent), with
    the columns the page and the exports show."""

    permission_classes = [IsAuthenticated, IsTenantMember]

    def get(self, request):
        from apps.reports import metrics
        from apps.tenants.time import tenant_tz

        filters = exports.report_filter_parse(request.query_params)
        tz = tenant_tz(user=request.user)
        table, rng = exports.report_for(request.user, filters, tz)
        figures = [*metrics.COUNTERS, *metrics.derived({}).keys()]

        def render(row):
            return {k: row[k] for k in figures}

        return Response(
            {
                "from": rng.start.astimezone(tz).date().isoformat(),
                "to": (rng.end.astimezone(tz) - timedelta(days=1)).date().isoformat(),
                "time_zone": str(tz),
                "dimension": table["dimension"],
                "columns": [
                    {"key": k, "label": str(label), "kind": kind}
                    for k, label, kind in metrics.report_columns(table["dimension"])
                ],
                "rows": [{"id": r["id"], "name": r["name"], **render(r)} for r in table["rows"]],
                "total": render(table["total"]),
            }
        )


class FollowUpSerializer(serializers.Serializer):
    result = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    outcome = serializers.ChoiceField(choices=FollowUpOutcome.choices, required=False)
    done = serializers.BooleanField(required=False)


class FollowUpCreateSerializer(serializers.Serializer):
    conversation_id = id_field()
    due_at = serializers.DateTimeField()
    note = serializers.CharField(max_length=1000, trim_whitespace=True)


def followup_to_dict(task: FollowUpTask) -> dict:
    lm = task.leave_message
    return {
        "id": task.pk,
        "source": task.source,
        "conversation_id": task.conversation_id,
        "customer_id": task.customer_id,
        "customer_name": str(task.customer) if task.customer_id else (lm.name if lm else ""),
        "contact": lm.contact if lm else "",
        "text": (task.note or (lm.content if lm else (task.rating.comment if task.rating else "")))[:300],
        "score": task.rating.score if task.rating else None,
        "assignee_id": task.assignee_id,
        "due_at": task.due_at.isoformat(),
        "status": task.status,
        "outcome": task.outcome,
        "result": task.result,
    }


class FollowUpListView(APIView):
    """The actor's follow-up tasks (agents: the ones they own; ?status=open|done)."""

    permission_classes = [IsAuthenticated, IsTenantMember]

    def get(self, request):
        qs = FollowUpTask.objects.visible_to(request.user).select_related("customer", "rating", "leave_message")
        if not request.user.is_manager or request.GET.get("mine") == "1":
            qs = qs.filter(assignee_id=request.user.pk)
        state = request.GET.get("status", "open")
        if state in ("open", "done"):
            qs = qs.filter(status=state)
        return Response({"results": [followup_to_dict(t) for t in qs.order_by("status", "due_at", "id")[:200]]})

    @extend_schema(request=FollowUpCreateSerializer, responses={201: OpenApiTypes.OBJECT}, tags=["followups"])
    def post(self, request):
        """A follow-up task on a conversation the actor can see, owned by them."""
        data = FollowUpCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.followup_create(actor=request.user, **data.validated_data)
        task = FollowUpTask.objects.select_related("customer", "rating", "leave_message").get(pk=task.pk)
        return Response(followup_to_dict(task), status=status.HTTP_201_CREATED)


class FollowUpDetailView(APIView):
    permission_classes = [IsAuthenticated, IsTenantMember]

    def patch(self, request, pk: int):
        data = FollowUpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.followup_update(actor=request.user, task_id=pk, **data.validated_data)
        task = FollowUpTask.objects.select_related("customer", "rating", "leave_message").get(pk=task.pk)
        return Response(followup_to_dict(task))
