"""Outcomes of send attempts waiting to be written, flushed together in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from mailer.db import Connection
from mailer.delivery import queue as deliveries
from mailer.models import Bounce

# What the worker is given to record the bounces SMTP replies tell it, with their
# consequences (feedback.policy.bounce_recorder): delivery knows no bounce policy.
BounceRecorder = Callable[[Connection, Sequence[Bounce]], Awaitable[object]]


@dataclass
class Ledger:
    """Outcomes waiting to be written; flushed together in one transaction."""

    sent: list[tuple[int, str]] = field(default_factory=list)
    deferred: list[tuple[int, datetime, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    bounces: list[Bounce] = field(default_factory=list)
    record_bounces: BounceRecorder | None = None

    def __len__(self) -> int:
        return len(self.sent) + len(self.deferred) + len(self.failed)

    async def flush(self, pool: asyncpg.Pool) -> int:
        """Write everything recorded so far; on error nothing is dropped (retry later)."""
        if not len(self) and not self.bounces:
            return 0
        batch = Ledger(self.sent, self.deferred, self.failed, self.bounces, self.record_bounces)
        self.sent, self.deferred, self.failed, self.bounces = [], [], [], []
        try:
            async with pool.acquire() as conn:
                if not (batch.deferred or batch.failed or batch.bounces):
                    # Only sent mail, the usual case: one statement is atomic on its own,
                    # and BEGIN and COMMIT would be two more round trips per flush.
                    await deliveries.mark_sent(conn, batch.sent)
                    return len(batch)
                async with conn.transaction():
                    await deliveries.mark_sent(conn, batch.sent)
                    await deliveries.mark_deferred(conn, batch.deferred)
                    await deliveries.mark_failed(conn, batch.failed)
                    if batch.bounces and self.record_bounces is not None:
                        await self.record_bounces(conn, batch.bounces)
        except BaseException:
            self.sent[:0], self.deferred[:0] = batch.sent, batch.deferred
            self.failed[:0], self.bounces[:0] = batch.failed, batch.bounces
            raise
        return len(batch)
