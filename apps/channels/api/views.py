"""Partner platform REST API (C1): signed inbound messages."""

from __future__ import annotations

import json

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.channels import partner, services
from apps.channels.models import Channel, ChannelKind, InboundStatus
from apps.core.errors import ApplicationError, NotFound


class PartnerUserSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class PartnerMessageSerializer(serializers.Serializer):
    message_id = serializers.CharField(max_length=100)
    user = PartnerUserSerializer()
    type = serializers.ChoiceField(choices=["text", "image"], default="text")
    text = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    image_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["type"] == "text" and not attrs["text"].strip():
            raise serializers.ValidationError({"text": _("The message is empty.")})
        if attrs["type"] == "image" and not attrs["image_url"]:
            raise serializers.ValidationError({"image_url": _("An image message needs image_url.")})
        return attrs


PartnerMessageResult = inline_serializer(
    "PartnerMessageResult",
    {
        "duplicate": serializers.BooleanField(),
        "conversation_id": serializers.IntegerField(allow_null=True),
        "message_id": serializers.IntegerField(allow_null=True),
        "seq": serializers.IntegerField(allow_null=True),
        "status": serializers.CharField(),
    },
)


class PartnerMessageView(APIView):
    """POST one message from a partner platform's user. Signed with the channel's API secret."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=PartnerMessageSerializer,
        responses={201: PartnerMessageResult, 200: PartnerMessageResult},
        parameters=[
            OpenApiParameter("X-Kefu-Key", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-Kefu-Timestamp", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "X-Kefu-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="hex HMAC-SHA256(api_secret, timestamp + '.' + raw body)",
            ),
        ],
    )
    def post(self, request, key: str):
        channel = Channel.objects.filter(key=key, kind=ChannelKind.PARTNER).first()
        if channel is None:
            raise NotFound()
        raw = request.body
        partner.verify_request(
            channel=channel,
            api_key=request.headers.get("X-Kefu-Key", ""),
            timestamp=request.headers.get("X-Kefu-Timestamp", ""),
            signature=request.headers.get("X-Kefu-Signature", ""),
            body=raw,
        )
        if not channel.is_enabled:
            raise ApplicationError("channel_disabled", _("This channel is not accepting conversations."), status=403)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApplicationError("invalid_json", _("The body must be a JSON object."))
        serializer = PartnerMessageSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        inbound = services.inbound_record(
            channel=channel,
            external_id=v["message_id"],
            sender_id=v["user"]["id"],
            kind=v["type"],
            payload={"text": v["text"], "image_url": v["image_url"], "user_name": v["user"]["name"]},
            enqueue=False,
        )
        duplicate = not inbound.created_now
        if inbound.status == InboundStatus.PENDING:
            inbound = services.inbound_process(inbound_id=inbound.pk)
        if inbound.status != InboundStatus.DONE:
            raise ApplicationError(
                "not_accepted",
                _("The message was not accepted: %(reason)s") % {"reason": inbound.error or inbound.status},
                status=409,
            )
        msg = inbound.message
        return Response(
            {
                "duplicate": duplicate,
                "conversation_id": inbound.conversation_id,
                "message_id": inbound.message_id,
                "seq": msg.seq if msg else None,
                "status": inbound.status,
            },
            status=status.HTTP_200_OK if duplicate else status.HTTP_201_CREATED,
        )
