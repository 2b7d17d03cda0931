"""DRF authentication for visitors: `Authorization: Visitor <token>`."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from apps.core.errors import ApplicationError
from apps.messaging.visitor import visitor_token_load

KEYWORD = "Visitor"


class VisitorTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, token = header.partition(" ")
        if keyword != KEYWORD:
            return None
        try:
            visitor = visitor_token_load(token.strip())
        except ApplicationError as exc:
            raise exceptions.AuthenticationFailed(str(exc.message), code=exc.code)
        return visitor, token

    def authenticate_header(self, request):
        return KEYWORD


class VisitorTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.messaging.api.auth.VisitorTokenAuthentication"
    name = "visitorToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Visitor <token>` from POST /api/v1/visitor/sessions/",
        }


class IsStaffOrVisitor(permissions.BasePermission):
    """A visitor token, or a logged-in staff member of a tenant."""

    def has_permission(self, request, view):
        user = request.user
        if getattr(user, "is_visitor", False):
            return True
        return bool(user and user.is_authenticated and user.is_active and user.tenant_id)


class IsVisitor(permissions.BasePermission):
    def has_permission(self, request, view):
        return getattr(request.user, "is_visitor", False)
