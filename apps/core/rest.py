"""DRF defaults kept apart from apps.core.api (DRF's views import these while loading)."""

from __future__ import annotations

from rest_framework.metadata import SimpleMetadata
from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """limit 1..200 (default PAGE_SIZE); an offset past 2^31 is read as 2^31 (an empty page)."""

    max_limit = 200
    max_offset = 2**31

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)


class SafeMetadata(SimpleMetadata):
    """OPTIONS answers for every view: actions without a serializer are simply not described."""

    def determine_actions(self, request, view):
        try:
            return super().determine_actions(request, view)
        except Exception:  # noqa: BLE001 - a view without get_serializer(): no form description
            return {}
