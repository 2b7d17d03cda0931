"""Partner platform REST API (C1): signed inbound messages."""

from __future__ import annotations

import json

from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.channels import partner, services, widget
from apps.channels.models import Channel, ChannelKind, InboundStatus
from apps.core.errors import ApplicationError
from apps.core.origins import request_origin
from apps.core.ratelimit import public_rate
from apps.messaging.api.auth import IsVisitor, VisitorTokenAuthentication
from apps.messaging.selectors import conversation_get_for_visitor


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
            raise partner.unknown_key()  # exactly like a wrong key: no oracle for channel keys
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
        recorded = services.inbound_record(
            channel=channel,
            external_id=v["message_id"],
            sender_id=v["user"]["id"],
            kind=v["type"],
            payload={"text": v["text"], "image_url": v["image_url"], "user_name": v["user"]["name"]},
            enqueue=False,
        )
        inbound, duplicate = recorded.inbound, not recorded.created
        if inbound.status == InboundStatus.PENDING:
            inbound = services.inbound_process(inbound_id=inbound.pk).inbound
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


# --- the visitor widget -------------------------------------------------------------------------


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


@method_decorator(ratelimit(key="ip", rate=public_rate, block=True), name="get")
class WidgetConfigView(APIView):
    """What the loader and the frame show before a visitor says anything (company info F46,
    greeting, pre-chat form, service hours). Other sites may read it only if they are allowed."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(parameters=[OpenApiParameter("channel", str, required=True)], tags=["visitor"], auth=[])
    def get(self, request):
        channel = widget.widget_channel_get(key=request.query_params.get("channel", ""))
        origin = request.headers.get("Origin")
        own = request_origin(secure=request.is_secure(), host=request.get_host())
        if origin and not channel.origin_allowed(origin, own_origin=own):
            raise ApplicationError("origin_not_allowed", _("This site may not open the chat."), status=403)
        return _cors(Response(widget.widget_config(channel)), origin)


class _VisitorView(APIView):
    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    def conversation(self, conversation_id):
        return conversation_get_for_visitor(visitor=self.request.user, conversation_id=conversation_id)


class WidgetQueueView(_VisitorView):
    """The visitor's place in the queue right now (updates then arrive as conversation.queued)."""

    @extend_schema(tags=["visitor"])
    def get(self, request, conversation_id: int):
        from apps.routing.selectors import queue_position, queue_read_instant, queue_wait

        as_of = queue_read_instant()
        conversation = self.conversation(conversation_id)
        if conversation.status != "queued":
            return Response(
                {
                    "conversation_id": conversation.pk,
                    "status": conversation.status,
                    "position": None,
                    "estimated_wait_seconds": None,
                    "agents_online": None,
                    "as_of": as_of,
                }
            )
        position = queue_position(conversation=conversation)
        wait = queue_wait(tenant_id=conversation.tenant_id)
        return Response(
            {
                "conversation_id": conversation.pk,
                "status": conversation.status,
                "position": position,
                "estimated_wait_seconds": wait.seconds_for(position),
                "agents_online": wait.agents_online,
                "as_of": as_of,
            }
        )


class RatingSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=30), max_length=10, required=False, default=list
    )
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class WidgetRatingView(_VisitorView):
    """F3: the visitor rates the conversation (stars, tags, comment), once."""

    @extend_schema(request=RatingSerializer, tags=["visitor"])
    def post(self, request, conversation_id: int):
        from apps.conversations.services import rating_submit
        from apps.customers.models import Customer

        conversation = self.conversation(conversation_id)
        serializer = RatingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        customer = Customer.objects.get(pk=request.user.customer_id, tenant_id=request.user.tenant_id)
        rating = rating_submit(
            conversation_id=conversation.pk, customer=customer, score=v["score"], tags=v["tags"], comment=v["comment"]
        )
        return Response(
            {"conversation_id": conversation.pk, "score": rating.score, "tags": rating.tags, "comment": rating.comment},
            status=status.HTTP_201_CREATED,
        )


class LeaveMessageSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    contact = serializers.CharField(max_length=100)
    content = serializers.CharField(max_length=2000)
    reason = serializers.CharField(max_length=30, required=False, allow_blank=True, default="off_hours")


class WidgetLeaveMessageView(_VisitorView):
    """Off hours / queue full: the visitor leaves a message (F45)."""

    @extend_schema(request=LeaveMessageSerializer, tags=["visitor"])
    def post(self, request):
        from apps.customers.models import Customer
        from apps.routing.services import leave_message_create

        serializer = LeaveMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        v = serializer.validated_data
        channel = Channel.objects.get(pk=request.user.channel_id, tenant_id=request.user.tenant_id)
        customer = Customer.objects.get(pk=request.user.customer_id, tenant_id=request.user.tenant_id)
        note = leave_message_create(
            channel=channel,
            customer=customer,
            name=v["name"],
            contact=v["contact"],
            content=v["content"],
            reason=v["reason"],
        )
        return Response({"id": note.pk}, status=status.HTTP_201_CREATED)


class PrechatSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class WidgetProfileView(_VisitorView):
    """The pre-chat form (name, phone ...) fills in the visitor's customer record."""

    @extend_schema(request=PrechatSerializer, tags=["visitor"])
    def post(self, request):
        serializer = PrechatSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = services.customer_update_prechat(
            tenant_id=request.user.tenant_id, customer_id=request.user.customer_id, **serializer.validated_data
        )
        return Response({"customer_id": customer.pk, "name": customer.display_name})


class MiniProgramCardInput(serializers.Serializer):
    card = serializers.IntegerField(min_value=0, max_value=100)
    client_msg_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class MiniProgramCardView(APIView):
    """POST: send one of the channel's mini-program cards in a mini-program conversation."""

    @extend_schema(request=MiniProgramCardInput, responses={201: dict, 200: dict}, tags=["messaging"])
    def post(self, request, conversation_id: int):
        from apps.messaging.api.views import sent_response

        data = MiniProgramCardInput(data=request.data)
        data.is_valid(raise_exception=True)
        sent = services.miniprogram_card_send(
            actor=request.user,
            conversation_id=conversation_id,
            card_index=data.validated_data["card"],
            client_msg_id=data.validated_data["client_msg_id"] or None,
        )
        return sent_response(sent)
