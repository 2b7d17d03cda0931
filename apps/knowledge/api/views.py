"""Knowledge base API: thin views over apps.knowledge services and selectors."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django_ratelimit.decorators import ratelimit
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import IsManager, IsTenantMember, TenantScopedViewSet
from apps.core.errors import ApplicationError, PermissionDenied
from apps.knowledge import selectors, services
from apps.knowledge.api.serializers import (
    FaqEntrySerializer,
    ImportSerializer,
    KeywordAlertSerializer,
    UsageSerializer,
)
from apps.knowledge.models import FaqEntry, KeywordAlert


def suggest_rate(group, request) -> str:
    return getattr(django_settings, "KB_SUGGEST_RATE", None) or django_settings.PUBLIC_RATE


def _require_tenant(user) -> int:
    if not user.tenant_id:
        raise ApplicationError("no_tenant", _("This account does not belong to a company."))
    return user.tenant_id


def _check_write_scope(user, branch) -> None:
    """Company-wide entries are the super admin's; supervisors write entries of their own subtree."""
    if not user.can_reach_branch(branch):
        raise PermissionDenied(_("Only a super admin can change company-wide entries."))


class FaqEntryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """FAQ entries of the knowledge base. Agents read; supervisors and super admins write."""

    model = FaqEntry
    serializer_class = FaqEntrySerializer
    permission_classes = [IsManager]
    filterset_fields = ["category", "is_enabled", "branch", "channel"]

    def get_queryset(self):
        return super().get_queryset().order_by("id")

    def create(self, request, *args, **kwargs):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        _check_write_scope(request.user, ser.validated_data.get("branch"))
        entry = services.faq_entry_create(
            tenant_id=_require_tenant(request.user), actor=request.user, **ser.validated_data
        )
        return Response(FaqEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        entry = self.get_object()
        _check_write_scope(request.user, entry.branch)
        ser = self.get_serializer(entry, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        if "branch" in ser.validated_data:
            _check_write_scope(request.user, ser.validated_data["branch"])
        entry = services.faq_entry_update(entry=entry, actor=request.user, **ser.validated_data)
        return Response(FaqEntrySerializer(entry).data)

    def destroy(self, request, *args, **kwargs):
        entry = self.get_object()
        _check_write_scope(request.user, entry.branch)
        services.faq_entry_delete(entry=entry, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_file(self, request):
        if not (request.user.is_super_admin or request.user.is_platform_operator):
            raise PermissionDenied(_("Only a super admin can import the knowledge base."))
        ser = ImportSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        upload = ser.validated_data["file"]
        if upload.size > 10 * 1024 * 1024:
            raise ApplicationError("file_too_large", _("The file is larger than 10 MB."))
        result = services.faq_import(
            tenant_id=_require_tenant(request.user), content=upload.read(), filename=upload.name, actor=request.user
        )
        return Response(result, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("file_format", str, enum=["csv", "xlsx"], required=False)],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
        },
    )
    @action(detail=False, methods=["get"], url_path="export")
    def export(self, request):
        fmt = request.query_params.get("file_format", "csv")
        if fmt not in ("csv", "xlsx"):
            raise ApplicationError("invalid_format", _("Choose CSV or XLSX."))
        content, content_type = services.faq_export(queryset=self.get_queryset(), fmt=fmt)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="faq.{fmt}"'
        return response

    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=False)],
        responses=inline_serializer("KbSearch", {"results": serializers.ListField(child=serializers.DictField())}),
    )
    @action(detail=False, methods=["get"], url_path="search")
    def search(self, request):
        """Staff search of the knowledge base (workbench side panel)."""
        q = (request.query_params.get("q") or "").strip()[:200]
        results = selectors.kb_search(actor=request.user, text=q, k=10) if q else []
        return Response({"results": results})


@method_decorator(ratelimit(key="ip", rate=suggest_rate, block=True), name="get")
class SuggestView(APIView):
    """F2: suggestions as the visitor types (public: the channel key identifies the tenant)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def get(self, request):
        key = (request.query_params.get("channel_key") or "").strip()
        if not key:
            raise ApplicationError("channel_key_required", _("channel_key is required."))
        q = (request.query_params.get("q") or "").strip()
        if len(q) > 100:
            raise ApplicationError("query_too_long", _("The query can be at most 100 characters."))
        return Response({"suggestions": selectors.kb_suggest(channel_key=key, text=q)})


class AssistView(APIView):
    """F54: the bot's best answers for the conversation's latest visitor message."""

    permission_classes = [IsTenantMember]

    def get(self, request, conversation_id: int):
        return Response(selectors.kb_assist(actor=request.user, conversation_id=conversation_id))


class AssistUsageView(APIView):
    """F54: an agent sent (or edited and sent) a suggested answer: count it."""

    permission_classes = [IsTenantMember]

    def post(self, request, conversation_id: int):
        # Reach first: an id outside it answers like a missing one, whatever the body says. (A
        # counter of suggestions used: whoever may see the conversation, like the suggestions.)
        conversation = selectors.conversation_for_actor(actor=request.user, conversation_id=conversation_id)
        ser = UsageSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        entry = get_object_or_404(
            FaqEntry.objects.for_tenant(conversation.tenant_id), pk=ser.validated_data["entry_id"]
        )
        usage = services.suggestion_use(
            conversation=conversation, entry=entry, agent=request.user, action=ser.validated_data["action"]
        )
        return Response({"id": usage.pk, "entry_id": entry.pk, "action": usage.action}, status=status.HTTP_201_CREATED)


class CapturedView(APIView):
    """F55: what the bot captured in a conversation, and on the customer record (customer panel)."""

    permission_classes = [IsTenantMember]

    def get(self, request, conversation_id: int):
        conversation = selectors.conversation_for_actor(actor=request.user, conversation_id=conversation_id)
        return Response(services.captured_for_conversation(conversation=conversation))


class KeywordAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """F53: flagged conversations, scoped to the reader's subtree."""

    model = KeywordAlert
    serializer_class = KeywordAlertSerializer
    permission_classes = [IsManager]
    filterset_fields = ["conversation", "severity"]

    def get_queryset(self):
        return super().get_queryset().order_by("-id")
