"""Group commit for websocket sends: one transaction for every send waiting at that moment.

A server process has one writer per event loop. A consumer hands it a `SendRequest` and awaits
the result; the writer takes everything queued when it is free, writes it with one call of
`services.messages_create` in a worker thread (one transaction, a constant number of statements
for the whole batch), then wakes each sender with its own result. Under light load a batch is a
single message and nothing waits; under heavy load the batches grow by themselves while the
previous transaction commits, so the database sees fewer, larger commits (what MariaDB's own
group commit does for concurrent transactions, done before the statements instead of at the
log flush).

Order: a websocket consumer handles one frame at a time and awaits its ack before the next, so
one socket never has two sends in flight; requests are batched in arrival order and a
conversation's messages get their seqs in that order. Nothing is acknowledged before it is
committed, and the wake-ups are published only after the commit (the service does both).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from django.db import InterfaceError, OperationalError

from apps.core.errors import ApplicationError
from apps.messaging import services
from apps.messaging.dbthreads import im_db
from apps.messaging.services import SendRequest, Sent

logger = logging.getLogger(__name__)

MAX_BATCH = 200  # bounds one transaction's size and lock set, not the throughput


class MessageWriter:
    def __init__(self, *, max_batch: int = MAX_BATCH):
        self.max_batch = max_batch
        self._queue: deque[tuple[SendRequest, asyncio.Future]] = deque()
        self._task: asyncio.Task | None = None
        # Thread-pool DB call, not the one "thread sensitive" thread: each worker thread keeps
        # its own connection, and batches never queue behind unrelated sync work.
        self._write = im_db(services.messages_create)
        self.batches = 0
        self.messages = 0

    async def submit(self, request: SendRequest) -> Sent:
        """Write one message (or find it by client_msg_id); raises the ApplicationError that
        refused it."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        result = await future
        if isinstance(result, ApplicationError):
            raise result
        return result

    async def _run(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
            try:
                results = await self._write(requests=[request for request, _future in batch])
            except (OperationalError, InterfaceError) as exc:
                # The database is unreachable: every sender is told at once (their clients resend
                # by client_msg_id), no point trying each request alone.
                results = [exc] * len(batch)
            except Exception as exc:  # noqa: BLE001 - isolate the request that broke the batch
                logger.exception("writing a batch of %d messages failed", len(batch))
                results = [exc] if len(batch) == 1 else [await self._write_alone(r) for r, _f in batch]
            self.batches += 1
            self.messages += len(batch)
            for (_request, future), result in zip(batch, results, strict=True):
                if future.done():  # the sender went away (socket closed): nothing to tell
                    continue
                if isinstance(result, Exception) and not isinstance(result, ApplicationError):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _write_alone(self, request: SendRequest):
        try:
            return (await self._write(requests=[request]))[0]
        except Exception as exc:  # noqa: BLE001 - this sender gets its failure
            return exc


_writers: dict[asyncio.AbstractEventLoop, MessageWriter] = {}


def get_writer() -> MessageWriter:
    """The writer of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        for stale in [lp for lp in _writers if lp.is_closed()]:
            del _writers[stale]
        writer = _writers[loop] = MessageWriter()
    return writer
