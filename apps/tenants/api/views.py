from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.ratelimit import public_rate
from apps.tenants.models import Tenant

CompanyInfo = inline_serializer(
    "CompanyInfo",
    {
        "name": serializers.CharField(),
        "logo": serializers.CharField(),
        "welcome_text": serializers.CharField(),
        "service_hours_text": serializers.CharField(),
        "timezone": serializers.CharField(),
    },
)


@method_decorator(ratelimit(key="ip", rate=public_rate, block=True), name="get")
class PublicCompanyInfoView(APIView):
    """F46: the company information a visitor sees. Public and rate-limited."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=CompanyInfo)
    def get(self, request, slug):
        tenant = get_object_or_404(Tenant, slug=slug, is_active=True)
        return Response(tenant.public_info())
