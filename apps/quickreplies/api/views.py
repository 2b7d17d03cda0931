"""F12 quick replies API: /api/v1/workbench/quick-replies/ (the paths the workbench has always used)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Branch
from apps.core.api import IsTenantMember, id_field
from apps.core.errors import NotFound
from apps.quickreplies import selectors, services
from apps.quickreplies.models import QuickReply


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
