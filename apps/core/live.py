"""Live screens over a websocket (the supervisor's monitor, the visitor list): every frame is a
full snapshot read from the database, scoped to the viewer. Channel-layer messages only wake the
screen, at most once per `throttle` seconds, and a ticker re-sends every `periodic` seconds (what
changes without an event: waiting times, visitors whose pings stopped), so a missed wake-up
costs a little delay and nothing else."""

from __future__ import annotations

import asyncio
import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer

logger = logging.getLogger(__name__)


class SnapshotConsumer(AsyncJsonWebsocketConsumer):
    throttle = 1.0
    periodic = 30.0
    pending = False

    async def open_screen(self, groups: list[str]) -> None:
        """Join the wake-up groups, accept, send the first snapshot and start the ticker."""
        self.live_groups = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_snapshot()
        self.ticker = asyncio.ensure_future(self._tick())

    async def disconnect(self, code):
        for group in getattr(self, "live_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        ticker = getattr(self, "ticker", None)
        if ticker:
            ticker.cancel()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.periodic)
            await self.send_snapshot()

    async def kf_event(self, message) -> None:
        if self.pending:
            return
        self.pending = True
        asyncio.ensure_future(self._delayed())

    async def _delayed(self) -> None:
        try:
            await asyncio.sleep(self.throttle)
        finally:
            self.pending = False
        try:
            await self.send_snapshot()
        except Exception:  # a task's exception would vanish silently; the next event retries
            logger.exception("%s snapshot failed", type(self).__name__)

    async def send_snapshot(self) -> object:
        raise NotImplementedError
