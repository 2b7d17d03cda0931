"""Live visitor list websocket (/ws/visitors/): full snapshots of the visitors on the sites the
staff member may watch, pushed (at most once a second) when a visitor opens a page or leaves.

The connection joins a channel's visitor group only for channels that passed the visibility
check (selectors.watchable_channel_ids) when it connected; every frame is read from the
database, so a missed wake-up costs a little delay and nothing else.
"""

from __future__ import annotations

from channels.db import database_sync_to_async

from apps.core.live import SnapshotConsumer
from apps.core.origins import websocket_origin_ok
from apps.messaging.groups import user_control_group
from apps.visitors import selectors
from apps.visitors.events import visitors_group

THROTTLE = 1.0
PERIODIC = 20.0  # visitors whose pings stop disappear without an event


class VisitorsConsumer(SnapshotConsumer):
    throttle = THROTTLE
    periodic = PERIODIC

    async def connect(self):
        user = self.scope.get("user")
        if not websocket_origin_ok(self.scope) or user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4403)
            return
        if not user.tenant_id:
            await self.close(code=4403)
            return
        self.user = user
        self.channel_id = None
        self.branch_id = None
        channel_ids = await database_sync_to_async(selectors.watchable_channel_ids)(actor=user)
        watch = [visitors_group(user.tenant_id, cid) for cid in channel_ids]
        watch.append(user_control_group(user.tenant_id, user.pk))  # kf.access: account changed
        await self.open_screen(watch)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or content.get("type") != "filter":
            await self.send_json({"type": "error", "code": "invalid_frame", "message": "unknown frame"})
            return
        values = {}
        for name in ("channel_id", "branch_id"):
            value = content.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                await self.send_json(
                    {"type": "error", "code": "invalid_frame", "message": f"{name} must be an integer"}
                )
                return
            values[name] = value
        self.channel_id, self.branch_id = values["channel_id"], values["branch_id"]
        await self.send_snapshot()

    async def kf_access(self, message):
        """The account changed (disabled, role, branch): close; a new connection gets the new scope."""
        await self.close(code=4401)

    async def send_snapshot(self) -> None:
        snap = await database_sync_to_async(selectors.live_visitors)(
            actor=self.user, channel_id=self.channel_id, branch_id=self.branch_id
        )
        await self.send_json({"type": "visitors.snapshot", "snapshot": snap})
