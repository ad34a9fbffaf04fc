"""Retention: delivery rows and events older than their settings are purged in batches by
the scheduler (MAILER_RETAIN_DELIVERIES_DAYS, MAILER_RETAIN_EVENTS_DAYS).

Each batch is one statement (its own short transaction), so a purge never holds many locks
or a long transaction. Before a digest's or alert's delivery row goes, who was sent which of
its items moves to the compact `sent_items` ledger, which "never an item twice" and a
correction's audience read beside the rows still kept."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from mailer.db import load_queries

log = logging.getLogger(__name__)
Q = load_queries("delivery/retention")
BATCH = 5_000  # rows per statement


async def _purge(pool: asyncpg.Pool, query: str, before: datetime, batch: int) -> int:
    total = 0
    while True:
        removed = int(await pool.fetchval(Q[query], before, batch))
        total += removed
        if removed < batch:
            return total


async def purge_expired(
    pool: asyncpg.Pool,
    *,
    deliveries_days: int,
    events_days: int,
    now: datetime,
    batch: int = BATCH,
) -> tuple[int, int]:
    """Purge what is past retention; returns (delivery rows, events) removed."""
    deliveries = await _purge(
        pool, "purge_deliveries", now - timedelta(days=deliveries_days), batch
    )
    events = await _purge(pool, "purge_events", now - timedelta(days=events_days), batch)
    if deliveries or events:
        log.info("retention: purged %d delivery rows and %d events", deliveries, events)
    return deliveries, events
