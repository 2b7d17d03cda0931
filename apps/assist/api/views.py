"""/api/v1/assist/...: the workbench's AI assistance (summaries, reply suggestions)."""

from __future__ import annotations

from django.conf import settings
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.assist import selectors, services
from apps.conversations import policy
from apps.core.api import IsTenantMember


def suggest_rate(group, request) -> str:
    return getattr(settings, "ASSIST_SUGGEST_RATE", "12/m")


class ConversationAssistView(APIView):
    """GET: whether AI assistance is on for this conversation's company, and its summaries."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, tags=["assist"])
    def get(self, request, conversation_id: int):
        conversation = policy.check(request.user, conversation_id, policy.VIEW)
        config = selectors.assist_settings_read(tenant_id=conversation.tenant_id)
        enabled = bool(config and config.usable)
        summaries = selectors.summaries_for_conversation(conversation=conversation) if enabled else []
        return Response(
            {
                "enabled": enabled,
                "suggestions_enabled": enabled and bool(config and config.suggestions_enabled),
                "summaries": [services.summary_to_dict(s) for s in summaries],
            }
        )


@method_decorator(ratelimit(key="user", rate=suggest_rate, method="POST", block=True), name="post")
class SuggestionsView(APIView):
    """POST: ask for 1-3 reply suggestions (202 while the provider works; poll the row)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT}, tags=["assist"])
    def post(self, request, conversation_id: int):
        conversation = policy.check(request.user, conversation_id, policy.ACT)
        row = services.suggestion_request(conversation=conversation, actor=request.user)
        row.refresh_from_db()  # the task may already have run (eager Celery)
        return Response(services.suggestion_to_dict(row), status=status.HTTP_202_ACCEPTED)


class SuggestionView(APIView):
    """GET: one request for suggestions (pending, ok with the suggestions, or unavailable)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, tags=["assist"])
    def get(self, request, suggestion_id: int):
        row = selectors.suggestion_get(actor=request.user, suggestion_id=suggestion_id)
        return Response(services.suggestion_to_dict(row))
