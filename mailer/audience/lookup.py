"""Subscribers as the console shows them: a bounded search by address fragment, and one
person's whole record (profile, topics, series, consent ledger, deliveries, bounces).

Reads only; the changes an admin makes (export, erase, unsubscribe) are the preference
module's own functions, the same ones the subscriber's links and the editor API use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from mailer.addresses import address_hash, address_key
from mailer.audience import preferences
from mailer.db import load_queries
from mailer.errors import InvalidInput, NotFound

# How many of the newest subscribers a fragment search reads before it asks the trigram
# index instead (tens of milliseconds; bench/console).
RECENT_WINDOW = 20_000

Q = load_queries("audience/lookup")

LEDGER_LIMIT = 200
DELIVERY_LIMIT = 50
BOUNCE_LIMIT = 50


def like_pattern(fragment: str) -> str:
    """A LIKE pattern matching the fragment anywhere in a case-folded address; `%`, `_` and
    backslashes in the fragment match themselves."""
    escaped = address_key(fragment).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_subscribers(
    pool: asyncpg.Pool,
    *,
    fragment: str | None,
    status: str | None,
    topic_id: int | None,
    before: int | None,
    limit: int,
    since: datetime | None = None,
) -> list[asyncpg.Record]:
    """Newest first, at most `limit` rows, each with id below `before` when given. A search
    that runs past a few seconds is cancelled with a request for a longer fragment."""
    pattern = like_pattern(fragment) if fragment else None
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(Q["custom_plans"])
            await conn.execute(Q["search_timeout"])
            if pattern is None:
                query = "search_subscribers" if topic_id is None else "search_subscribers_in_topic"
                return await conn.fetch(Q[query], pattern, status, topic_id, before, limit, since)
            # A fragment: among the newest first (a common one fills the page there), then,
            # when that did not fill it, led by the address index (a rare one, or none).
            args = (pattern, status, topic_id, before, limit, since)
            rows = await conn.fetch(Q["search_recent_by_fragment"], *args, RECENT_WINDOW)
            if len(rows) >= limit:
                return rows
            return await conn.fetch(Q["search_by_fragment"], *args)
    except asyncpg.QueryCanceledError as exc:
        raise InvalidInput(
            "the search took too long",
            {"q": "The search took too long: type more of the address."},
        ) from exc


@dataclass(frozen=True)
class SubscriberRecord:
    profile: dict[str, Any]
    topics: list[asyncpg.Record]
    series: list[asyncpg.Record]
    ledger: list[asyncpg.Record]
    deliveries: list[asyncpg.Record]
    bounces: list[asyncpg.Record]
    suppression: asyncpg.Record | None


async def subscriber_record(pool: asyncpg.Pool, subscriber_id: int) -> SubscriberRecord:
    """Everything the subscriber page shows, read on one connection."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(preferences.Q["get_subscriber"], subscriber_id)
        if row is None:
            raise NotFound(f"subscriber {subscriber_id} does not exist (or was erased)")
        hashed = address_hash(row["email"])
        return SubscriberRecord(
            profile=dict(row),
            topics=await conn.fetch(preferences.Q["subscriber_topics"], subscriber_id),
            series=await conn.fetch(Q["subscriber_series"], subscriber_id),
            ledger=await conn.fetch(Q["consent_ledger"], subscriber_id, hashed, LEDGER_LIMIT),
            deliveries=await conn.fetch(Q["recent_deliveries"], subscriber_id, DELIVERY_LIMIT),
            bounces=await conn.fetch(Q["recent_bounces"], subscriber_id, BOUNCE_LIMIT),
            suppression=await conn.fetchrow(Q["suppression"], hashed),
        )


async def subscriber_address(pool: asyncpg.Pool, subscriber_id: int) -> str:
    row = await pool.fetchrow(preferences.Q["get_subscriber"], subscriber_id)
    if row is None:
        raise NotFound(f"subscriber {subscriber_id} does not exist (or was erased)")
    return str(row["email"])
