"""Dispatch REST API: my dispatch state, the tenant's switches (F45/F58), left messages."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.conversations.services import agent_active_count
from apps.core.api import IsManager, IsTenantMember
from apps.core.errors import PermissionDenied
from apps.routing import selectors, services
from apps.routing.models import DispatchSettings, LeaveMessage


class DispatchSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = DispatchSettings
        exclude = ["id", "tenant"]
        read_only_fields = ["auto_paused", "auto_paused_at", "updated_at"]


class MyDispatchView(APIView):
    """What the workbench header shows: my status, load and limit, the queue length."""

    permission_classes = [IsTenantMember]

    def get(self, request):
        user = request.user
        return Response(
            {
                "status": user.status,
                "active_chats": agent_active_count(agent_id=user.pk),
                "max_chats": user.max_chats,
                "max_chats_cap": user.max_chats_cap,
                "queue_length": selectors.queue_length(tenant_id=user.tenant_id) if user.tenant_id else 0,
            }
        )


class DispatchSettingsView(APIView):
    """GET for managers; PATCH (the rate-limit switch, thresholds, timeouts) for super admins."""

    permission_classes = [IsManager]

    def get(self, request):
        if not request.user.tenant_id:
            raise PermissionDenied()
        obj = selectors.dispatch_settings_get(tenant_id=request.user.tenant_id, fresh=True)
        return Response(DispatchSettingsSerializer(obj).data)

    def patch(self, request):
        if not request.user.tenant_id:
            raise PermissionDenied()
        current = selectors.dispatch_settings_get(tenant_id=request.user.tenant_id, fresh=True)
        data = DispatchSettingsSerializer(current, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        obj = services.dispatch_settings_update(actor=request.user, **data.validated_data)
        return Response(DispatchSettingsSerializer(obj).data)


class LeaveMessageListView(APIView):
    permission_classes = [IsManager]

    def get(self, request):
        rows = LeaveMessage.objects.visible_to(request.user).select_related("channel")[:200]
        return Response(
            {
                "results": [
                    {
                        "id": m.pk,
                        "channel": m.channel.name if m.channel else "",
                        "name": m.name,
                        "contact": m.contact,
                        "content": m.content,
                        "reason": m.reason,
                        "created_at": m.created_at.isoformat(),
                        "handled_at": m.handled_at.isoformat() if m.handled_at else None,
                    }
                    for m in rows
                ]
            }
        )


class WaitSerializer(serializers.Serializer):
    remind_at = serializers.DateTimeField(required=False, allow_null=True)


class ConversationWaitView(APIView):
    """POST: wait for the customer (optional reminder time); DELETE: back to active work."""

    permission_classes = [IsTenantMember]

    def post(self, request, conversation_id: int):
        from apps.conversations.serializers import conversation_to_dict
        from apps.routing import waiting

        data = WaitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conv = waiting.conversation_wait(
            conversation_id=conversation_id, actor=request.user, remind_at=data.validated_data.get("remind_at")
        )
        return Response(conversation_to_dict(conv))

    def delete(self, request, conversation_id: int):
        from apps.conversations.serializers import conversation_to_dict
        from apps.routing import waiting

        conv = waiting.conversation_resume(conversation_id=conversation_id, actor=request.user)
        return Response(conversation_to_dict(conv))
