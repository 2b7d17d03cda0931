"""OpenAPI schema additions (drf-spectacular): the error responses every operation can give.

Every error of the API has one shape (apps.core.api.exception_handler); an operation documents
the statuses it can answer with: 400 (invalid input, parse_error), 401/403 (no or wrong
credentials, not allowed), 404 (absent or out of reach), 405 (method), 409 (conflict), 413/415
(uploads), 429 (rate limited).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as _SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from rest_framework.generics import GenericAPIView

_default_gsc = GenericAPIView.get_serializer_class

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "stable error code (docs/protocol.md §4)"},
                "message": {"type": "string", "description": "in the user's language"},
                "fields": {"type": "object", "additionalProperties": True, "description": "per-field errors"},
            },
            "required": ["code", "message"],
            "additionalProperties": True,
        }
    },
    "required": ["error"],
}

DESCRIPTIONS = {
    "400": "Invalid input (`invalid` with `fields`, `parse_error`, or a domain code)",
    "401": "Not authenticated",
    "403": "Not allowed",
    "404": "Not found, or outside your reach",
    "405": "Method not allowed",
    "409": "Conflict with the current state",
    "413": "Upload too large",
    "415": "Upload type not allowed",
    "429": "Too many requests",
}
UPLOAD_STATUSES = ("413", "415")


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            multipart = "multipart/form-data" in (operation.get("requestBody") or {}).get("content", {})
            for status, description in DESCRIPTIONS.items():
                if status in UPLOAD_STATUSES and not multipart:
                    continue
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result


class AutoSchema(_SpectacularAutoSchema):
    """drf-spectacular's AutoSchema; a plain APIView that declares no serializer is documented as
    taking and answering a JSON object (instead of being left without bodies) until it declares
    its own shapes with @extend_schema."""

    def _has_serializer(self) -> bool:
        view = self.view
        custom = getattr(type(view), "get_serializer_class", _default_gsc) is not _default_gsc
        return bool(getattr(view, "serializer_class", None) or custom)

    def get_request_serializer(self):
        serializer = super().get_request_serializer() if self._has_serializer() else None
        if serializer is None and not self._has_serializer() and self.method in ("POST", "PUT", "PATCH"):
            return OpenApiTypes.OBJECT
        return serializer

    def get_response_serializers(self):
        if not self._has_serializer():
            return OpenApiTypes.OBJECT
        return super().get_response_serializers()
