"""One error family for the whole product, with stable string codes.

The DRF exception handler (apps.core.api) turns it into {"error": {"code", "message", ...}};
websocket consumers turn it into an `error` frame with the same fields.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status_code = 400

    def __init__(self, code: str, message: Any, *, status: int | None = None, extra: dict | None = None):
        super().__init__(str(message))
        self.code = code
        self.message = message  # may be a lazy translation: rendered in the user's language
        if status is not None:
            self.status_code = status
        self.extra = extra or {}

    def as_dict(self) -> dict:
        return {"code": self.code, "message": str(self.message), **self.extra}


class NotFound(ApplicationError):
    status_code = 404

    def __init__(self, message: Any = None, code: str = "not_found"):
        from django.utils.translation import gettext_lazy as _

        super().__init__(code, message or _("Not found."))


class PermissionDenied(ApplicationError):
    status_code = 403

    def __init__(self, message: Any = None, code: str = "permission_denied"):
        from django.utils.translation import gettext_lazy as _

        super().__init__(code, message or _("You do not have permission to do this."))
