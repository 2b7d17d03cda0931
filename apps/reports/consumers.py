"""Live monitor websocket (/ws/monitor/): snapshots recomputed when the tenant's staff group
says something changed, at most once per THROTTLE seconds.

The channel layer is only a wake-up: every frame is a full snapshot read from the database,
scoped to the supervisor's subtree, so a missed event costs nothing but a little delay.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.conf import settings

from apps.core.errors import ApplicationError
from apps.core.live import SnapshotConsumer
from apps.core.origins import websocket_origin_ok
from apps.messaging.groups import monitor_group, tenant_staff_group, user_control_group
from apps.tenants.time import tenant_tz

THROTTLE = getattr(settings, "REPORTS_MONITOR_THROTTLE_SECONDS", 1.0)
PERIODIC = 30.0  # waiting times grow even when nothing happens


def still_manager(user) -> bool:
    from apps.accounts.models import User

    fresh = User.objects.filter(pk=user.pk, is_active=True).first()
    return fresh is not None and fresh.is_manager and fresh.tenant_id == user.tenant_id


class MonitorConsumer(SnapshotConsumer):
    throttle = THROTTLE
    periodic = PERIODIC

    async def connect(self):
        user = self.scope.get("user")
        if (
            not websocket_origin_ok(self.scope)
            or user is None
            or not user.is_authenticated
            or not user.is_active
            or not user.is_manager
            or not user.tenant_id
        ):
            await self.close(code=4403)
            return
        self.user = user
        self.branch_id = None
        self.tz = await database_sync_to_async(tenant_tz)(user=user)
        # Conversation events go to their audience only; this screen is woken by tenant counters
        # and content-free nudges (kf.nudge) and re-reads its own scoped snapshot. The user's
        # control group tells it when the account is disabled.
        await self.open_screen(
            [
                tenant_staff_group(user.tenant_id),
                monitor_group(user.tenant_id),
                user_control_group(user.tenant_id, user.pk),
            ]
        )

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or content.get("type") != "drill":
            await self.send_json({"type": "error", "code": "invalid_frame", "message": "unknown frame"})
            return
        branch_id = content.get("branch_id")
        if branch_id is not None and (isinstance(branch_id, bool) or not isinstance(branch_id, int)):
            await self.send_json({"type": "error", "code": "invalid_frame", "message": "branch_id must be an integer"})
            return
        previous = self.branch_id
        self.branch_id = branch_id
        if not await self.send_snapshot():
            self.branch_id = previous

    # Any tenant staff event (queue change, assignment, status ...) may change the picture.
    kf_nudge = SnapshotConsumer.kf_event

    async def kf_access(self, message):
        """The account changed: a manager screen closes when it is disabled or no longer a manager."""
        if not await database_sync_to_async(still_manager)(self.user):
            await self.close(code=4401)

    async def send_snapshot(self) -> bool:
        try:
            snap = await database_sync_to_async(self._snapshot)()
        except ApplicationError as exc:
            await self.send_json({"type": "error", **exc.as_dict()})
            return False
        await self.send_json({"type": "monitor.snapshot", "snapshot": snap})
        return True

    def _snapshot(self) -> dict:
        from apps.reports.selectors import monitor_snapshot

        return monitor_snapshot(actor=self.user, branch_id=self.branch_id, tz=self.tz)
