"""Recalling a message over REST (staff), and the originals for supervisors."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.conversations import policy
from apps.core.api import IsTenantMember
from apps.messaging import recall, selectors
from apps.messaging.attachments import payload_with_signed_urls
from apps.messaging.serializers import message_to_dict


def recall_result(message, conversation) -> dict:
    return {
        "message": message_to_dict(message),
        "notice": message_to_dict(message.notice) if getattr(message, "notice", None) else None,
        "platform_recalled": not recall.platform_keeps_messages(conversation.channel.kind),
    }


class MessageRecallView(APIView):
    """POST: recall my own message within the company's recall window (for everyone)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, tags=["messaging"])
    def post(self, request, conversation_id: int, message_id: int):
        conversation = selectors.conversation_get_for_agent(
            user=request.user, conversation_id=conversation_id, level=policy.ACT
        )
        message = recall.message_recall(actor=request.user, conversation=conversation, message_id=message_id)
        return Response(recall_result(message, conversation))


class ConversationRecallsView(APIView):
    """GET: the recalled messages of a conversation as they were sent (supervisors and admins)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, tags=["messaging"])
    def get(self, request, conversation_id: int):
        conversation = selectors.conversation_get_for_agent(user=request.user, conversation_id=conversation_id)
        rows = recall.recalls_for_supervisor(actor=request.user, conversation=conversation)
        out = []
        for row in rows:
            d = recall.recall_to_dict(row)
            d["payload"] = payload_with_signed_urls(d["payload"])
            out.append(d)
        return Response({"results": out})
