"""Visitor-context API: the widget's page reports (public, from the tenant's site), linking a
visit to the chatting customer (visitor token), and the staff's views of visitors."""

from __future__ import annotations

import json

from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.channels.widget import widget_channel_get
from apps.core.errors import ApplicationError, PermissionDenied
from apps.core.ratelimit import public_rate
from apps.messaging.api.auth import IsVisitor, VisitorTokenAuthentication
from apps.visitors import invitations, selectors, services


class TrackInput(serializers.Serializer):
    channel = serializers.CharField(max_length=64)
    visitor = serializers.CharField(max_length=64)
    event = serializers.ChoiceField(choices=["page", "ping", "leave", "decline"])
    url = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    title = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    referrer = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    language = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    consent = serializers.BooleanField(required=False, default=False)
    invitation = serializers.IntegerField(required=False, min_value=1, max_value=2**62)


class PlainTextJSONParser(JSONParser):
    """The loader posts JSON as text/plain (a CORS "simple" request: no preflight, and
    navigator.sendBeacon on page exit can only send that)."""

    media_type = "text/plain"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json.loads(stream.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApplicationError("parse_error", _("The request body is not valid JSON."))


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


@method_decorator(ratelimit(key="ip", rate=public_rate, method="POST", block=True), name="post")
class TrackView(APIView):
    """POST one page view, ping or leave from the widget on the tenant's site."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [PlainTextJSONParser, JSONParser]

    @extend_schema(request=TrackInput, responses={200: dict, 204: None}, tags=["visitor"], auth=[])
    def post(self, request):
        data = TrackInput(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        channel = widget_channel_get(key=d["channel"])
        origin = request.headers.get("Origin")
        if not origin or not channel.origin_allowed(origin):
            raise ApplicationError("origin_not_allowed", _("This site may not open the chat."), status=403)
        if request.headers.get("Sec-GPC") == "1" or request.headers.get("DNT") == "1":
            # The browser asks not to be tracked: the loader does not send, and we do not keep.
            return _cors(Response(status=status.HTTP_204_NO_CONTENT), origin)
        if d["event"] == "page":
            visit = services.page_view_record(
                channel=channel,
                visitor_key=d["visitor"],
                url=d["url"],
                title=d["title"],
                referrer=d["referrer"],
                language=d["language"],
                user_agent=request.headers.get("User-Agent", ""),
                ip=request.META.get("REMOTE_ADDR", ""),
                origin=origin,
                consent=d["consent"],
            )
        elif not services.tracking_allowed(channel, consent=d["consent"]):
            visit = None
        elif d["event"] == "ping":
            visit = services.visit_ping(channel=channel, visitor_key=d["visitor"])
        elif d["event"] == "decline":
            invitations.invitation_decline(
                channel=channel, visitor_key=services.clean_key(d["visitor"]), invitation_id=d.get("invitation") or 0
            )
            return _cors(Response(status=status.HTTP_204_NO_CONTENT), origin)
        else:
            visit = services.visit_leave(channel=channel, visitor_key=d["visitor"])
        if visit is None:
            return _cors(Response(status=status.HTTP_204_NO_CONTENT), origin)
        body = {"visit": visit.pk, "ping_seconds": services.ping_seconds()}
        if d["event"] != "leave":
            invitation, wait = invitations.invitation_for_visitor(visit=visit)
            body["invitation"] = invitation
            if wait is not None:
                body["ping_seconds"] = max(1, min(body["ping_seconds"], wait))
        return _cors(Response(body), origin)


class LinkInput(serializers.Serializer):
    visitor = serializers.CharField(max_length=64)


class LinkView(APIView):
    """POST from the chat frame once its visitor session exists: this browser's visits on the
    channel are the chatting customer's."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(request=LinkInput, responses={200: dict}, tags=["visitor"])
    def post(self, request):
        from apps.channels.models import Channel
        from apps.customers.models import Customer

        data = LinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        visitor = request.user
        channel = Channel.objects.get(pk=visitor.channel_id)
        customer = Customer.objects.get(pk=visitor.customer_id, tenant_id=visitor.tenant_id)
        linked = services.visits_link_customer(
            channel=channel, visitor_key=data.validated_data["visitor"], customer=customer
        )
        return Response({"linked": linked})


class LiveVisitorsView(APIView):
    """GET: visitors on the actor's sites now (per channel and branch)."""

    @extend_schema(
        parameters=[OpenApiParameter("channel", int, required=False), OpenApiParameter("branch", int, required=False)],
        responses={200: dict},
        tags=["visitors"],
    )
    def get(self, request):
        def number(name):
            value = request.query_params.get(name)
            if value in (None, ""):
                return None
            if not value.isdigit() or len(value) > 12:
                raise ApplicationError("invalid_filter", _("“%(name)s” must be a number.") % {"name": name})
            return int(value)

        return Response(
            selectors.live_visitors(actor=request.user, channel_id=number("channel"), branch_id=number("branch"))
        )


class ConversationVisitsView(APIView):
    """GET: the customer's browsing for a conversation's panel (current page and trail)."""

    @extend_schema(responses={200: dict}, tags=["visitors"])
    def get(self, request, conversation_id: int):
        return Response(selectors.visitor_context(actor=request.user, conversation_id=conversation_id))


class InviteInput(serializers.Serializer):
    message = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class InviteView(APIView):
    """POST: an agent invites a browsing visitor to chat."""

    @extend_schema(request=InviteInput, responses={201: dict}, tags=["visitors"])
    def post(self, request, visit_id: int):
        data = InviteInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = invitations.invitation_create(
            actor=request.user, visit_id=visit_id, message=data.validated_data["message"]
        )
        return Response({"id": invitation.pk, "status": invitation.status}, status=status.HTTP_201_CREATED)


class AcceptInput(serializers.Serializer):
    visitor = serializers.CharField(max_length=64)


class AcceptView(APIView):
    """POST from the chat frame: the visitor answers an invitation; the conversation it starts."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(request=AcceptInput, responses={200: dict}, tags=["visitor"])
    def post(self, request, invitation_id: int):
        data = AcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = invitations.invitation_accept(
            visitor=request.user,
            invitation_id=invitation_id,
            visitor_key=services.clean_key(data.validated_data["visitor"]),
        )
        return Response({"conversation": {"id": conversation.pk, "status": conversation.status}})


class InvitationReportView(APIView):
    """GET: invitations sent, shown, accepted and converted, per rule and branch (?from=&to=)."""

    @extend_schema(
        parameters=[OpenApiParameter("from", str, required=False), OpenApiParameter("to", str, required=False)],
        responses={200: dict},
        tags=["visitors"],
    )
    def get(self, request):
        from apps.tenants.time import tenant_tz
        from apps.workbench.api.views import parse_range

        if not request.user.is_manager:
            raise PermissionDenied()
        try:
            start, end = parse_range(request.query_params, tz=tenant_tz(user=request.user), default_days=7)
        except ValueError:  # 2026-13-45: well formed, not a date
            raise ApplicationError("invalid_date", _("Dates must look like 2026-01-31."))
        return Response(selectors.invitation_report(actor=request.user, start=start, end=end))
