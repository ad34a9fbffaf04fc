"""MAILER_SEND_RATE as a token bucket in PostgreSQL, so the limit holds across replicas."""

from __future__ import annotations

import asyncpg

from mailer.db import load_queries

Q = load_queries("delivery/budget")


class SendBudget:
    """Grants permission to send; a claim never takes more rows than it was granted."""

    def __init__(self, pool: asyncpg.Pool, rate: float) -> None:
        self.pool = pool
        self.rate = rate

    @property
    def limited(self) -> bool:
        return self.rate > 0

    async def setup(self) -> None:
        if self.limited:
            await self.pool.execute(Q["ensure_budget"])

    async def take(self, want: int) -> tuple[int, float]:
        """(tokens granted, seconds to wait before asking again if none were)."""
        if not self.limited:
            return want, 0.0
        row = await self.pool.fetchrow(Q["take_tokens"], want, self.rate)
        if row is None:  # the row went missing (a restored database): make it again
            await self.setup()
            return 0, 0.05
        granted: int = row["granted"]
        missing = max(1.0 - float(row["available"]), 0.0)
        return granted, (missing / self.rate if granted == 0 else 0.0)

    async def give_back(self, unused: int) -> None:
        if self.limited and unused > 0:
            await self.pool.execute(Q["return_tokens"], unused, self.rate)
