"""My unread @mentions (the workbench's list on load) and marking one read."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import IsTenantMember
from apps.core.errors import NotFound
from apps.messaging import mentions


class MentionListView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, tags=["messaging"])
    def get(self, request):
        return Response(
            {"results": [mentions.mention_to_dict(m) for m in mentions.mentions_unread_for(user=request.user)]}
        )


class MentionReadView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, tags=["messaging"])
    def post(self, request, mention_id: int):
        if not mentions.mention_mark_read(user=request.user, mention_id=mention_id):
            from apps.messaging.models import Mention

            if not Mention.objects.filter(pk=mention_id, user=request.user, tenant_id=request.user.tenant_id).exists():
                raise NotFound()
        return Response({"id": mention_id, "read": True})
