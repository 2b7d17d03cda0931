"""Workbench REST API for conversations: parse, call one service, render."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_serializer, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.conversations import selectors, services
from apps.conversations.models import Conversation, ConversationTag, Transfer
from apps.conversations.serializers import conversation_to_dict
from apps.core.api import IsTenantMember, TenantScopedViewSet, id_field


def _render(conversation: Conversation) -> dict:
    data = conversation_to_dict(conversation)
    data["tag_ids"] = list(conversation.tags.values_list("pk", flat=True))
    return data


class TransferInput(serializers.Serializer):
    to_agent = id_field(required=False, allow_null=True)
    to_skill_group = id_field(required=False, allow_null=True)
    to_queue = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Back to the queue for the next free agent (of to_skill_group, when given) instead of a request.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class CloseInput(serializers.Serializer):
    tags = serializers.ListField(child=id_field(), required=False, default=list, max_length=20)
    reason = serializers.ChoiceField(
        choices=["agent_closed", "resolved", "spam", "no_response"], default="agent_closed"
    )


class TagsInput(serializers.Serializer):
    tags = serializers.ListField(child=id_field(), max_length=20)


class DeclineInput(serializers.Serializer):
    reason = serializers.CharField(required=False, max_length=100, default="declined")


CONVERSATION = OpenApiTypes.OBJECT  # conversation_to_dict() + tag_ids (docs/protocol.md)


@extend_schema_serializer(many=False)  # an object with a list inside, also for list actions
class ResultsSerializer(serializers.Serializer):
    results = serializers.ListField(child=serializers.DictField())


RESULTS = ResultsSerializer


@extend_schema_view(
    retrieve=extend_schema(responses=CONVERSATION, tags=["conversations"]),
    mine=extend_schema(responses=RESULTS, tags=["conversations"]),
    queue=extend_schema(responses=OpenApiTypes.OBJECT, tags=["conversations"]),
    accept=extend_schema(request=None, responses=CONVERSATION, tags=["conversations"]),
    transfer=extend_schema(request=TransferInput, responses={201: OpenApiTypes.OBJECT}, tags=["conversations"]),
    close=extend_schema(request=CloseInput, responses=CONVERSATION, tags=["conversations"]),
    tags=extend_schema(request=TagsInput, responses=CONVERSATION, tags=["conversations"]),
    invite_rating=extend_schema(request=None, responses=CONVERSATION, tags=["conversations"]),
)
class ConversationViewSet(TenantScopedViewSet):
    """/conversations/: retrieve one, my open conversations, the queue, and the F9/F14 actions."""

    model = Conversation
    lookup_value_regex = r"[0-9]+"

    def _get(self, pk) -> Conversation:
        return selectors.conversation_get_for_actor(actor=self.request.user, conversation_id=int(pk))

    def retrieve(self, request, pk=None):
        return Response(_render(self._get(pk)))

    @action(detail=False, methods=["get"])
    def mine(self, request):
        return Response(
            {"results": [conversation_to_dict(c) for c in selectors.conversations_mine(actor=request.user)]}
        )

    @action(detail=False, methods=["get"])
    def queue(self, request):
        qs = selectors.queue_visible_to(actor=request.user)
        page = self.paginate_queryset(qs)
        paginated = page is not None
        if not paginated:
            page = list(qs[:200])
        rows = [
            {**conversation_to_dict(c), "position": i}
            for i, c in enumerate(page, start=1 + (self.paginator.offset if paginated else 0))
        ]
        return self.get_paginated_response(rows) if paginated else Response({"results": rows})

    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        conversation = self._get(pk)
        return Response(_render(services.conversation_accept(conversation_id=conversation.pk, agent=request.user)))

    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        conversation = self._get(pk)
        data = TransferInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["to_queue"]:
            conversation = services.conversation_transfer_to_queue(
                conversation_id=conversation.pk,
                actor=request.user,
                skill_group_id=data.validated_data.get("to_skill_group"),
                note=data.validated_data["note"],
            )
            return Response(_render(conversation))
        transfer = services.conversation_transfer_request(
            conversation_id=conversation.pk,
            actor=request.user,
            to_agent_id=data.validated_data.get("to_agent"),
            to_skill_group_id=data.validated_data.get("to_skill_group"),
            note=data.validated_data["note"],
        )
        return Response(services.transfer_to_dict(transfer), status=201)

    @action(detail=True, methods=["get"], url_path="transfer-targets")
    def transfer_targets(self, request, pk=None):
        """Agents (live status, load, whether they can take it and why not) and skill groups."""
        return Response(selectors.transfer_targets(actor=request.user, conversation=self._get(pk)))

    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        conversation = self._get(pk)
        data = CloseInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_close(
            conversation_id=conversation.pk,
            actor=request.user,
            reason=data.validated_data["reason"],
            tag_ids=data.validated_data["tags"],
        )
        return Response(_render(conversation))

    @action(detail=True, methods=["post"])
    def tags(self, request, pk=None):
        conversation = self._get(pk)
        data = TagsInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_set_tags(
            conversation_id=conversation.pk, actor=request.user, tag_ids=data.validated_data["tags"]
        )
        return Response(_render(conversation))

    @action(detail=True, methods=["post"], url_path="invite-rating")
    def invite_rating(self, request, pk=None):
        conversation = self._get(pk)
        return Response(
            _render(services.conversation_invite_rating(conversation_id=conversation.pk, actor=request.user))
        )


@extend_schema_view(
    list=extend_schema(responses=RESULTS, tags=["conversations"]),
    accept=extend_schema(request=None, responses=CONVERSATION, tags=["conversations"]),
    decline=extend_schema(request=DeclineInput, responses=CONVERSATION, tags=["conversations"]),
)
class TransferViewSet(TenantScopedViewSet):
    """/transfers/: incoming transfer requests for me; accept or decline them."""

    model = Transfer
    pagination_class = None  # the incoming requests of one agent: a short list
    lookup_value_regex = r"[0-9]+"

    def list(self, request):
        return Response(
            {"results": [services.transfer_to_dict(t) for t in selectors.transfers_incoming(actor=request.user)]}
        )

    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return Response(_render(services.conversation_transfer_accept(transfer_id=int(pk), actor=request.user)))

    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        data = DeclineInput(data=request.data if isinstance(request.data, dict) else {})
        data.is_valid(raise_exception=True)
        reason = data.validated_data["reason"] or "declined"
        return Response(
            _render(services.conversation_transfer_decline(transfer_id=int(pk), actor=request.user, reason=reason))
        )


class TagListView(APIView):
    """F47: the tags agents choose from when closing."""

    permission_classes = [IsTenantMember]

    @extend_schema(responses=RESULTS, tags=["conversations"])
    def get(self, request):
        tags = selectors.tags_for(actor=request.user)
        return Response({"results": [{"id": t.pk, "name": t.name, "color": t.color} for t in tags]})


__all__ = ["ConversationViewSet", "TransferViewSet", "TagListView", "ConversationTag"]
