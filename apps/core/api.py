"""Shared API plumbing: the exception handler and the tenant-scoped view base."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions, permissions, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import ApplicationError
from apps.core.params import MAX_ID

logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, Ratelimited):
        return Response(
            {"error": {"code": "rate_limited", "message": _("Too many requests. Please wait a moment and try again.")}},
            status=429,
        )
    if isinstance(exc, ApplicationError):
        return Response({"error": exc.as_dict()}, status=exc.status_code)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable (restart, failover): the client retries, and idempotent
        # writes (client_msg_id) make the retry safe. Logged, since it is not the client's fault.
        logger.warning("API request failed, database unavailable: %s", exc)
        return Response(
            {"error": {"code": "unavailable", "message": _("The service is briefly unavailable. Please try again.")}},
            status=503,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        body = {"code": "invalid", "message": _("The submitted data is not valid."), "fields": response.data}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        body = {"code": str(getattr(detail, "code", code)), "message": str(detail)}
    response.data = {"error": body}
    return response


def id_field(**kwargs) -> serializers.IntegerField:
    """An integer id in a request body: 1 .. 2^63-1."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class IsTenantMember(permissions.BasePermission):
    """Authenticated staff of some tenant (platform operators pass too)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and (user.tenant_id or user.is_platform_operator))


class IsManager(IsTenantMember):
    """Supervisors and super admins may write; agents read."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return request.user.is_manager


class ScopedFilterBackend(DjangoFilterBackend):
    """Filters by a related id choose among what the reader may see (`visible_to`), so another
    tenant's id, or one outside the reader's reach, is refused exactly like an id that does not
    exist (400), never answered with an empty list that confirms it exists."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        for field in filterset.form.fields.values():
            model = getattr(getattr(field, "queryset", None), "model", None)
            visible_to = getattr(getattr(model, "objects", None), "visible_to", None)
            if visible_to is not None:
                field.queryset = visible_to(request.user)
        return filterset


class TenantScopedViewSet(viewsets.GenericViewSet):
    """The one place API querysets are scoped: `Model.objects.visible_to(user)`.

    Every model used here has a TenantQuerySet (apps.core.tenancy). Another tenant's object
    is simply absent from the queryset, so DRF answers 404 without ever confirming it exists.
    """

    permission_classes = [IsTenantMember]
    filter_backends = [ScopedFilterBackend]
    model: Any = None  # the TenantOwned model of the view set

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user)

    def get_serializer_context(self):
        context = dict(super().get_serializer_context())
        context["actor"] = self.request.user
        return context
