"""Ids drawn from a sequence a block at a time: one round trip per block, not per id."""

from __future__ import annotations

import asyncio
from collections import deque

import asyncpg


class IdBlock:
    """Hands out ids of one sequence, fetching `size` at once with `query` (which takes
    the count as $1 and returns one id per row). Ids are unique, not gap-free: a process
    that stops drops the rest of its block, and an id taken but not used stays unused."""

    def __init__(self, query: str, size: int = 100) -> None:
        self.query = query
        self.size = size
        self._ids: deque[int] = deque()
        self._refill = asyncio.Lock()

    async def take(self, pool: asyncpg.Pool) -> int:
        while not self._ids:
            async with self._refill:
                if not self._ids:  # another caller may have refilled while we waited
                    rows = await pool.fetch(self.query, self.size)
                    self._ids.extend(row[0] for row in rows)
        return self._ids.popleft()
