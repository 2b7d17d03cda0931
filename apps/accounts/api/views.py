from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import services
from apps.accounts.api.serializers import (
    BranchSerializer,
    MaxChatsSerializer,
    MembersSerializer,
    SetEnabledSerializer,
    SkillGroupSerializer,
    StatusSerializer,
    UserSerializer,
)
from apps.accounts.models import Branch, SkillGroup, User
from apps.core.api import IsManager, IsTenantMember, TenantScopedViewSet


def _branch_or_none(actor, branch_id):
    if branch_id is None:
        return None
    return get_object_or_404(Branch.objects.visible_to(actor), pk=branch_id)


class BranchViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantScopedViewSet,
):
    """The organisation tree (F38). Supervisors see and edit their subtree only."""

    model = Branch
    serializer_class = BranchSerializer
    permission_classes = [IsManager]

    def create(self, request, *args, **kwargs):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        parent = _branch_or_none(request.user, ser.validated_data.get("parent"))
        branch = services.branch_create(
            tenant=request.user.tenant,
            name=ser.validated_data["name"],
            code=ser.validated_data.get("code", ""),
            parent=parent,
            actor=request.user,
        )
        return Response(BranchSerializer(branch).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        branch = self.get_object()
        ser = self.get_serializer(branch, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        move = "parent" in ser.validated_data
        parent = _branch_or_none(request.user, ser.validated_data.get("parent")) if move else None
        branch = services.branch_update(
            branch=branch,
            actor=request.user,
            name=ser.validated_data.get("name"),
            code=ser.validated_data.get("code"),
            parent=parent,
            move=move,
        )
        return Response(BranchSerializer(branch).data)

    @extend_schema(request=SetEnabledSerializer, responses=BranchSerializer)
    @action(detail=True, methods=["post"], url_path="set-enabled")
    def set_enabled(self, request, pk=None):
        ser = SetEnabledSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        branch = services.branch_set_enabled(
            branch=self.get_object(), enabled=ser.validated_data["enabled"], actor=request.user
        )
        return Response(BranchSerializer(branch).data)


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantScopedViewSet,
):
    """People (F21, F34): accounts opened, disabled and re-enabled by supervisors in their subtree."""

    model = User
    serializer_class = UserSerializer
    permission_classes = [IsManager]
    filterset_fields = ["role", "status", "is_active", "branch"]

    def get_queryset(self):
        return super().get_queryset().select_related("branch").order_by("id")

    def create(self, request, *args, **kwargs):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        user = services.user_create(
            tenant=request.user.tenant,
            username=data["username"],
            password=data.get("password", ""),
            role=data["role"],
            branch=_branch_or_none(request.user, data.get("branch_id")),
            display_name=data.get("display_name", ""),
            max_chats_cap=data.get("max_chats_cap", 5),
            email=data.get("email", ""),
            actor=request.user,
        )
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        user = self.get_object()
        ser = self.get_serializer(user, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        set_branch = "branch_id" in data
        user = services.user_update(
            user=user,
            actor=request.user,
            display_name=data.get("display_name"),
            role=data.get("role"),
            phone=data.get("phone"),
            branch=_branch_or_none(request.user, data.get("branch_id")) if set_branch else None,
            set_branch=set_branch,
            max_chats_cap=data.get("max_chats_cap"),
            email=data.get("email"),
        )
        if data.get("password"):
            services.user_set_password(user=user, password=data["password"], actor=request.user)
        return Response(UserSerializer(user).data)

    @extend_schema(request=SetEnabledSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"], url_path="set-active")
    def set_active(self, request, pk=None):
        ser = SetEnabledSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        user = services.user_set_active(
            user=self.get_object(), active=ser.validated_data["enabled"], actor=request.user
        )
        return Response(UserSerializer(user).data)


class SkillGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    model = SkillGroup
    serializer_class = SkillGroupSerializer

    def get_queryset(self):
        return super().get_queryset().prefetch_related("members").order_by("id")

    @extend_schema(request=MembersSerializer, responses=SkillGroupSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsManager])
    def members(self, request, pk=None):
        ser = MembersSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        ids = set(ser.validated_data["members"])
        members = list(User.objects.visible_to(request.user).filter(pk__in=ids))
        if len(members) != len(ids):
            from apps.core.errors import NotFound

            raise NotFound()
        group = services.skill_group_set_members(group=self.get_object(), members=members, actor=request.user)
        return Response(SkillGroupSerializer(group).data)


class MeView(APIView):
    """The current user, and the agent's own status (F6) and max concurrent chats (F6b)."""

    permission_classes = [IsTenantMember]

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class MyStatusView(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(request=StatusSerializer, responses=UserSerializer)
    def post(self, request):
        ser = StatusSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        user = services.agent_set_status(agent=request.user, status=ser.validated_data["status"], actor=request.user)
        return Response(UserSerializer(user).data)


class MyMaxChatsView(APIView):
    permission_classes = [IsTenantMember]

    @extend_schema(request=MaxChatsSerializer, responses=UserSerializer)
    def post(self, request):
        ser = MaxChatsSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        user = services.agent_set_max_chats(agent=request.user, max_chats=ser.validated_data["max_chats"])
        return Response(UserSerializer(user).data)
