"""Click counts of redirect links, kept in memory and written every second in one statement.

Each click adds one to a counter keyed (mailing, item, link, UTC day): `clicks` for a
reader, `filtered` for a scanner (see scanners.py). The counters are added to the database
by an UPSERT about once a second, so a crash loses at most the last second's clicks; no row
per request is ever written, and nothing about the requester is kept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from mailer.db import load_queries
from mailer.feedback.scanners import BurstWindow, is_scanner_agent
from mailer.tokens import Signer

Q = load_queries("feedback/clicks")
log = logging.getLogger(__name__)

CountKey = tuple[int, int, str, date]  # mailing_id, item_id, link, day
FLUSH_SECONDS = 1.0
_STARTS_CACHED = 4096  # mailings whose send start is remembered


class ClickTokens:
    """Click tokens read once: every recipient of a mailing has the same links, so the same
    few tokens come again and again; a token is remembered only once its signature checked
    out (a bad one raises InvalidToken every time). Tokens name no one, so keeping them is
    keeping nothing about anyone."""

    def __init__(self, signer: Signer, size: int = 4096) -> None:
        self.signer = signer
        self.size = size
        self._known: dict[str, tuple[int, int, str]] = {}

    def read(self, token: str) -> tuple[int, int, str]:
        found = self._known.get(token)
        if found is None:
            found = self.signer.read_click_token(token)
            if len(self._known) >= self.size:
                del self._known[next(iter(self._known))]  # the oldest
            self._known[token] = found
        return found


@dataclass(frozen=True, slots=True)
class Requester:
    """What the redirect knows of one request; used to classify it, then dropped."""

    method: str
    user_agent: str
    client: str  # the client's address: only ever hashed, in memory (BurstWindow)


class ClickCounter:
    """The per-process counters, flushed by `run` (one per web application)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        signer: Signer,
        *,
        scanner_seconds: float,
        bursts: BurstWindow | None = None,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.pool = pool
        self.tokens = ClickTokens(signer)
        self.scanner_window = timedelta(seconds=scanner_seconds)
        self.bursts = bursts or BurstWindow()
        self.flush_seconds = flush_seconds
        self._pending: dict[CountKey, list[int]] = {}  # key -> [clicks, filtered]
        self._starts: OrderedDict[int, datetime | None] = OrderedDict()

    async def started_at(self, mailing_id: int) -> datetime | None:
        """The mailing's send start, asked of the database once per mailing (cached)."""
        if mailing_id in self._starts:
            self._starts.move_to_end(mailing_id)
            return self._starts[mailing_id]
        started: datetime | None = await self.pool.fetchval(Q["get_mailing_start"], mailing_id)
        if started is not None:  # a mailing not yet started may start: ask again later
            self._starts[mailing_id] = started
            if len(self._starts) > _STARTS_CACHED:
                self._starts.popitem(last=False)
        return started

    async def count(self, mailing_id: int, item_id: int, link: str, request: Requester) -> bool:
        """Count one click; True if it was a reader's, False if counted apart as a scanner."""
        now = datetime.now(UTC)
        key: CountKey = (mailing_id, item_id, link, now.date())
        scanner = request.method == "HEAD" or is_scanner_agent(request.user_agent)
        if not scanner and self.scanner_window:
            started = await self.started_at(mailing_id)
            scanner = started is not None and now - started < self.scanner_window
        if request.method != "HEAD":
            burst_key = self.bursts.key(request.client, request.user_agent, mailing_id)
            burst, earlier = self.bursts.see(burst_key, (item_id, link), None if scanner else key)
            for moved in earlier:  # the first links of a burst: a scanner's after all
                self._add(moved, -1, 1)
            scanner = scanner or burst
        self._add(key, 0 if scanner else 1, 1 if scanner else 0)
        return not scanner

    def _add(self, key: CountKey, clicks: int, filtered: int) -> None:
        counts = self._pending.get(key)
        if counts is None:
            self._pending[key] = [clicks, filtered]
        else:
            counts[0] += clicks
            counts[1] += filtered

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write the counters gathered so far in one statement; on failure they stay in
        memory for the next try. Returns the counters written."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, {}
        keys = list(batch)
        try:
            await self.pool.execute(
                Q["upsert_click_counts"],
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                [k[3] for k in keys],
                [batch[k][0] for k in keys],
                [batch[k][1] for k in keys],
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            for key, (clicks, filtered) in batch.items():
                self._add(key, clicks, filtered)
            raise
        return len(keys)

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every `flush_seconds` until stopped, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.flush_seconds)
            self.bursts.prune()
            try:
                await self.flush()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("click counts not written yet (will retry): %s", exc)
        await self.flush()
