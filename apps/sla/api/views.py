"""/api/v1/sla/...: policies (super admins write, managers read) and breaches (scoped)."""

from __future__ import annotations

from rest_framework import mixins
from rest_framework.response import Response

from apps.core.api import TenantScopedViewSet
from apps.core.errors import PermissionDenied
from apps.sla import services
from apps.sla.api.serializers import SlaBreachSerializer, SlaPolicySerializer
from apps.sla.models import SlaBreach, SlaPolicy


class SlaPolicyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantScopedViewSet,
):
    model = SlaPolicy
    serializer_class = SlaPolicySerializer

    def get_queryset(self):
        return super().get_queryset().order_by("order", "id")

    def _require_admin(self):
        user = self.request.user
        if not (user.is_super_admin or user.is_platform_operator):
            raise PermissionDenied()

    def create(self, request, *args, **kwargs):
        self._require_admin()
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.sla_policy_save(actor=request.user, tenant_id=request.user.tenant_id, **data.validated_data)
        return Response(self.get_serializer(policy).data, status=201)

    def update(self, request, *args, **kwargs):
        self._require_admin()
        policy = self.get_object()
        data = self.get_serializer(policy, data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        policy = services.sla_policy_save(
            actor=request.user, tenant_id=policy.tenant_id, policy=policy, **data.validated_data
        )
        return Response(self.get_serializer(policy).data)


class SlaBreachViewSet(mixins.ListModelMixin, TenantScopedViewSet):
    model = SlaBreach
    serializer_class = SlaBreachSerializer

    def get_queryset(self):
        return super().get_queryset().order_by("-breached_at")[:500]
