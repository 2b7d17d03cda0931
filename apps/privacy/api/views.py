"""/api/v1/privacy/...: retention settings, personal-information requests, who viewed a customer."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import IsTenantMember
from apps.core.files import private_file_response
from apps.privacy import selectors, services
from apps.privacy.api.serializers import (
    CustomerViewSerializer,
    PersonalDataRequestCreateSerializer,
    PersonalDataRequestSerializer,
    RetentionPolicySerializer,
    RetentionPolicyUpdateSerializer,
)


class RetentionPolicyView(APIView):
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses=RetentionPolicySerializer)
    def get(self, request):
        policy = selectors.retention_policy_for_actor(actor=request.user)
        return Response(RetentionPolicySerializer(policy).data)

    @extend_schema(request=RetentionPolicyUpdateSerializer, responses=RetentionPolicySerializer)
    def put(self, request):
        data = RetentionPolicyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.retention_policy_update(
            actor=request.user, tenant_id=request.user.tenant_id, **data.validated_data
        )
        return Response(RetentionPolicySerializer(policy).data)


class RequestListCreateView(APIView):
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses=PersonalDataRequestSerializer(many=True))
    def get(self, request):
        rows = selectors.privacy_requests_for_actor(actor=request.user)[:200]
        return Response(PersonalDataRequestSerializer(rows, many=True).data)

    @extend_schema(request=PersonalDataRequestCreateSerializer, responses={201: PersonalDataRequestSerializer})
    def post(self, request):
        data = PersonalDataRequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.privacy_request_create(
            actor=request.user, customer_id=data.validated_data["customer"], kind=data.validated_data["kind"]
        )
        row.refresh_from_db()
        return Response(PersonalDataRequestSerializer(row).data, status=201)


class RequestDetailView(APIView):
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses=PersonalDataRequestSerializer)
    def get(self, request, pk: int):
        row = selectors.privacy_request_for_actor(actor=request.user, request_id=pk)
        return Response(PersonalDataRequestSerializer(row).data)


class RequestDownloadView(APIView):
    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request, pk: int):
        row = services.privacy_request_open_download(actor=request.user, request_id=pk)
        response = private_file_response(
            row.file,
            filename=f"customer-{row.customer_id}-data.zip",
            content_type="application/zip",
            as_attachment=True,
        )
        response["Cache-Control"] = "private, no-store"
        return response


class CustomerViewsView(APIView):
    """Who opened this customer's personal information, newest first."""

    permission_classes = [IsAuthenticated, IsTenantMember]

    @extend_schema(responses=CustomerViewSerializer(many=True))
    def get(self, request, pk: int):
        rows = selectors.customer_views(actor=request.user, customer_id=pk)
        return Response(CustomerViewSerializer(rows, many=True).data)
