"""Failed transactional mail sent again by an operator, after the cause was fixed (an
address the sender could not encode, a relay refusing SMTPUTF8, a broken template)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from mailer.db import load_queries

Q = load_queries("delivery/retry")
DQ = load_queries("delivery/queue")

RETRYABLE_KINDS = ("confirm", "welcome", "already_subscribed", "link")


@dataclass(frozen=True)
class RetryReport:
    queued: Counter[str] = field(default_factory=Counter)  # kind -> deliveries requeued
    skipped: Counter[str] = field(default_factory=Counter)  # why -> deliveries left failed

    @property
    def matched(self) -> int:
        return sum(self.queued.values()) + sum(self.skipped.values())


async def retry_failed(
    pool: asyncpg.Pool,
    *,
    confirm_ttl_seconds: float,
    since: datetime | None = None,
    kind: str | None = None,
    reason: str | None = None,
    dry_run: bool = False,
) -> RetryReport:
    """Put failed transactional deliveries back in the queue when their subscriber may
    still get them (see `list_failed_for_retry`), in one transaction; a requeued
    confirmation's link works for a full lifetime again. Running it twice queues nothing
    more (requeued rows are no longer failed). Bulk mail (digests, alerts) is never
    requeued: its mailing is over, and news sent late is not news."""
    report = RetryReport()
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(Q["list_failed_for_retry"], since, kind, reason)
        chosen = [r for r in rows if r["skip"] is None]
        for row in rows:
            if row["skip"] is None:
                report.queued[row["kind"]] += 1
            else:
                report.skipped[row["skip"]] += 1
        if dry_run or not chosen:
            return report
        await conn.execute(Q["requeue_deliveries"], [r["delivery_id"] for r in chosen])
        confirmations = [r["confirmation_id"] for r in chosen if r["kind"] == "confirm"]
        if confirmations:
            await conn.execute(Q["renew_confirmations"], confirmations, confirm_ttl_seconds)
        await conn.execute(DQ["notify_deliveries"])
    return report
