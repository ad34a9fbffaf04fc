"""Waking the delivery workers after commits, coalesced: at most one NOTIFY per 20 ms.

A NOTIFY sent inside a transaction takes a database-wide lock at commit and holds it
through the WAL flush, so busy transactions that each notify commit one at a time. Hot
paths (signups) therefore commit without one and call `DeliveryWaker.wake()` afterwards;
the waker sends at most one `pg_notify('mailer_deliveries', '')` per `interval` in its
own short transaction, always after the commits it stands for. Workers also poll every
second, so a lost wake-up (database briefly away) delays a mail, never loses it.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from mailer.db import DB_ERRORS, load_queries

DQ = load_queries("delivery/queue")
log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.02  # seconds a wake-up may wait to be coalesced (at most 50 NOTIFYs a second)


class DeliveryWaker:
    """Coalesces wake-ups of the delivery workers (one per process, held by the app)."""

    def __init__(self, pool: asyncpg.Pool, interval: float = DEFAULT_INTERVAL) -> None:
        self.pool = pool
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def wake(self) -> None:
        """Call after a commit that queued mail; returns at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._notify(), name="delivery-waker")
        else:
            self._again = True  # a commit while a NOTIFY may already be on its way

    async def _notify(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.interval)
                self._again = False
                try:
                    await self.pool.execute(DQ["notify_deliveries"])
                except DB_ERRORS as exc:
                    log.debug("cannot wake the delivery workers (%s); they poll anyway", exc)
                if not self._again:
                    return
        finally:
            self._task = None

    async def close(self) -> None:
        """Send what is pending (at shutdown, before the pool closes)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
