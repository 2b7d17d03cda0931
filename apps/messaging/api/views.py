"""REST side of the IM layer, for agents (session) and visitors (`Authorization: Visitor <token>`)."""

from __future__ import annotations

from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.conversations import policy
from apps.conversations.models import OPEN_STATUSES
from apps.core.errors import ApplicationError
from apps.core.origins import request_origin
from apps.core.parsers import JSONParser
from apps.core.ratelimit import public_rate
from apps.messaging import selectors, services
from apps.messaging.api import serializers as s
from apps.messaging.api.auth import IsStaffOrVisitor, IsVisitor, VisitorTokenAuthentication
from apps.messaging.attachments import (
    attachment_create,
    attachment_message_fields,
    attachment_to_dict,
    payload_with_signed_urls,
)
from apps.messaging.models import ContentType, SenderKind, Visibility
from apps.messaging.serializers import message_to_dict

AUTH = [SessionAuthentication, VisitorTokenAuthentication]


def _brief(conversation) -> dict:
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "last_seq": conversation.last_seq,
        "created_at": conversation.created_at,
    }


def _is_visitor(request) -> bool:
    return getattr(request.user, "is_visitor", False)


def _int_param(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApplicationError("invalid", _("%(name)s must be an integer.") % {"name": name})
    if value < 0:
        raise ApplicationError("invalid", _("%(name)s must not be negative.") % {"name": name})
    return value


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def sent_response(sent: services.Sent) -> Response:
    """A send's answer: 201 with the message when this request wrote it, 200 with the stored one
    when its client_msg_id was sent before."""
    return Response(
        {"message": message_to_dict(sent.message), "duplicate": not sent.created},
        status=status.HTTP_201_CREATED if sent.created else status.HTTP_200_OK,
    )


@method_decorator(ratelimit(key="ip", rate=public_rate, method="POST", block=True), name="post")
class VisitorSessionView(APIView):
    """Start (or continue) a visitor session on a channel and get a visitor token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=s.VisitorSessionRequestSerializer,
        responses={201: s.VisitorSessionResponseSerializer},
        tags=["visitor"],
        auth=[],
    )
    def post(self, request):
        data = _valid(s.VisitorSessionRequestSerializer, request.data)
        result = services.visitor_session_create(
            channel_key=data["channel_key"],
            origin=request.headers.get("Origin"),
            own_origin=request_origin(secure=request.is_secure(), host=request.get_host()),
            visitor_id=data.get("visitor_id") or None,
            identity=data.get("identity"),
        )
        channel, customer = result["channel"], result["customer"]
        open_conversations = (
            selectors.conversations_for_visitor(visitor=_VisitorRef(channel, customer))
            .filter(channel_id=channel.pk, status__in=OPEN_STATUSES)
            .order_by("id")
        )
        return Response(
            {
                "token": result["token"],
                "expires_at": result["expires_at"],
                "visitor_id": result["visitor_id"],
                "customer_id": customer.pk,
                "channel_id": channel.pk,
                "websocket_path": "/ws/visitor/",
                "tenant": channel.tenant.public_info(),
                "greeting": channel.greeting,
                "conversations": [_brief(c) for c in open_conversations],
            },
            status=status.HTTP_201_CREATED,
        )


class _VisitorRef:
    def __init__(self, channel, customer):
        self.tenant_id, self.channel_id, self.customer_id = channel.tenant_id, channel.pk, customer.pk


class VisitorConversationsView(APIView):
    """The visitor's conversations (GET) and starting or joining the open one on the channel (POST)."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(responses={200: s.ConversationBriefSerializer(many=True)}, tags=["visitor"])
    def get(self, request):
        rows = selectors.conversations_for_visitor(visitor=request.user).order_by("-id")[:50]
        return Response([_brief(c) for c in rows])

    @extend_schema(
        request=s.StartRequestSerializer,
        responses={201: s.ConversationBriefSerializer, 200: s.ConversationBriefSerializer},
        tags=["visitor"],
    )
    def post(self, request):
        from apps.channels.models import Channel
        from apps.customers.models import Customer
        from apps.routing.intake import conversation_intake_result

        data = _valid(s.StartRequestSerializer, request.data)
        visitor = request.user
        channel = Channel.objects.get(pk=visitor.channel_id, tenant_id=visitor.tenant_id)
        customer = Customer.objects.get(pk=visitor.customer_id, tenant_id=visitor.tenant_id)
        intake = conversation_intake_result(channel=channel, customer=customer, subject=data["subject"])
        return Response(
            _brief(intake.conversation), status=status.HTTP_201_CREATED if intake.created else status.HTTP_200_OK
        )


class MessagesView(APIView):
    """History (keyset by seq) and sending, for agents and visitors."""

    authentication_classes = AUTH
    permission_classes = [IsStaffOrVisitor]

    @extend_schema(
        parameters=[
            OpenApiParameter("after_seq", int, description="Messages after this seq, ascending (resume)"),
            OpenApiParameter("before_seq", int, description="Messages before this seq (scroll up)"),
            OpenApiParameter("limit", int, description="1..200, default 50"),
        ],
        responses={200: s.HistoryResponseSerializer},
        tags=["messaging"],
    )
    def get(self, request, conversation_id: int):
        conversation = selectors.conversation_get_for_actor(actor=request.user, conversation_id=conversation_id)
        after_seq, before_seq = _int_param(request, "after_seq"), _int_param(request, "before_seq")
        limit = _int_param(request, "limit") or 50
        if after_seq is not None and before_seq is not None:
            raise ApplicationError("invalid", _("Use after_seq or before_seq, not both."))
        rows = selectors.message_history(
            conversation=conversation,
            staff=not _is_visitor(request),
            after_seq=after_seq,
            before_seq=before_seq,
            limit=limit,
        )
        first = rows[0].seq if rows else (after_seq or 0)
        last = rows[-1].seq if rows else (after_seq if after_seq is not None else conversation.last_seq)
        return Response(
            {
                "messages": [message_to_dict(m) for m in rows],
                "last_seq": conversation.last_seq,
                "has_more_before": bool(rows) and first > 1,
                "has_more_after": last < conversation.last_seq,
            }
        )

    @extend_schema(
        request=s.SendRequestSerializer,
        responses={201: s.SendResponseSerializer, 200: s.SendResponseSerializer},
        tags=["messaging"],
    )
    def post(self, request, conversation_id: int):
        conversation = selectors.conversation_get_for_actor(
            actor=request.user, conversation_id=conversation_id, level=policy.ACT
        )
        data = _valid(s.SendRequestSerializer, request.data)
        visitor = _is_visitor(request)
        if visitor and data["visibility"] != Visibility.ALL:
            raise ApplicationError("forbidden", _("Only staff can write internal notes."), status=403)
        content_type: str = ContentType.TEXT
        payload: dict | None = None
        if data.get("attachment_id") is not None:
            content_type, payload = attachment_message_fields(
                conversation=conversation, attachment_id=data["attachment_id"]
            )
        sender_kind: str = SenderKind.VISITOR
        sender_user = None
        if not visitor:
            sender_kind, sender_user = services.staff_sender_kind(request.user), request.user
        sent = services.message_send(
            request=services.SendRequest(
                conversation_id=conversation.pk,
                body=data["body"],
                client_msg_id=data.get("client_msg_id") or None,
                content_type=content_type,
                payload=payload,
                visibility=data["visibility"],
                sender_kind=sender_kind,
                sender_user=sender_user,
            )
        )
        return sent_response(sent)


class ReadView(APIView):
    """Mark the conversation read up to a seq (read receipts; the mark never moves back)."""

    authentication_classes = AUTH
    permission_classes = [IsStaffOrVisitor]

    @extend_schema(request=s.ReadRequestSerializer, responses={200: s.ReadResponseSerializer}, tags=["messaging"])
    def post(self, request, conversation_id: int):
        conversation = selectors.conversation_get_for_actor(actor=request.user, conversation_id=conversation_id)
        data = _valid(s.ReadRequestSerializer, request.data)
        if _is_visitor(request):
            mark = services.read_mark(conversation=conversation, seq=data["seq"], reader_kind=SenderKind.VISITOR)
        else:
            mark = services.read_mark(
                conversation=conversation,
                seq=data["seq"],
                reader_kind=services.staff_sender_kind(request.user),
                user=request.user,
            )
        return Response({"last_read_seq": mark})


class AttachmentUploadView(APIView):
    """Upload a file for a conversation; then send a message with its attachment_id."""

    authentication_classes = AUTH
    permission_classes = [IsStaffOrVisitor]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        responses={201: s.AttachmentSerializer},
        tags=["messaging"],
    )
    def post(self, request, conversation_id: int):
        conversation = selectors.conversation_get_for_actor(
            actor=request.user, conversation_id=conversation_id, level=policy.ACT
        )
        upload = request.FILES.get("file")
        if upload is None:
            raise ApplicationError("invalid", _("Send the file in the 'file' field."))
        user = None if _is_visitor(request) else request.user
        attachment = attachment_create(conversation=conversation, upload=upload, user=user)
        return Response(
            payload_with_signed_urls({"attachment": attachment_to_dict(attachment)})["attachment"],
            status=status.HTTP_201_CREATED,
        )
