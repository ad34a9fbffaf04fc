"""Read models for the editor console: what its pages show that the domain modules do not
list themselves. Plain functions on the pool, like the rest of the domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from mailer.db import load_queries
from mailer.editorial.counts import COUNTS_MAX_AGE, TopicCount, in_background, topic_counts
from mailer.errors import NotFound

Q = load_queries("editorial/overview")


async def item_detail(pool: asyncpg.Pool, item_id: int) -> dict[str, Any]:
    row = await pool.fetchrow(Q["get_item_detail"], item_id)
    if row is None:
        raise NotFound(f"item {item_id} does not exist")
    return dict(row)


async def items_in_order(pool: asyncpg.Pool, item_ids: list[int]) -> list[asyncpg.Record]:
    return await pool.fetch(Q["items_by_ids"], item_ids)


async def digest_item_ids(pool: asyncpg.Pool, mailing_id: int) -> list[int]:
    return [r["item_id"] for r in await pool.fetch(Q["digest_item_ids"], mailing_id)]


async def candidate_items(
    pool: asyncpg.Pool, mailing_id: int, series_id: int | None
) -> list[asyncpg.Record]:
    return await pool.fetch(Q["candidate_items"], mailing_id, series_id)


async def list_digests(pool: asyncpg.Pool, status: str | None) -> list[asyncpg.Record]:
    return await pool.fetch(Q["list_digests_page"], status)


@dataclass
class Send:
    """One started mailing with its outcome (counts are None while it is not over)."""

    mailing_id: int
    kind: str
    status: str
    subject: str
    started_at: datetime
    total: int | None
    sent: int | None
    failed: int | None
    suppressed: int | None
    bounced: int


@dataclass
class Dashboard:
    zone: str
    days: list[date]
    scheduled: list[asyncpg.Record]
    upcoming_series: list[asyncpg.Record]
    sends: list[Send]
    sent_per_day: list[int]
    bounce_rate_per_day: list[float | None]
    topics: list[dict[str, Any]] = field(default_factory=list)  # name, slug, active, history
    changes: list[asyncpg.Record] = field(default_factory=list)


async def keep_counts(pool: asyncpg.Pool, days: int | None, kind: str | None = None) -> int:
    """Count each finished mailing of the window (of any age when `days` is None; of one
    kind when given) once (one scan of its deliveries each); later visits read the kept
    counts. Returns how many were counted now."""
    counted = 0
    for row in await pool.fetch(Q["mailings_to_count"], days, kind):
        status = await pool.execute(Q["count_mailing"], row["mailing_id"])
        counted += int(status.rsplit(" ", 1)[1])
    return counted


async def dashboard(pool: asyncpg.Pool, *, zone: str, days: int = 30) -> Dashboard:
    tz = ZoneInfo(zone)
    await keep_counts(pool, days)
    today = datetime.now(tz).date()
    window = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    recent = await pool.fetch(Q["recent_mailings"], 10)
    per_day = await pool.fetch(Q["sends_per_day"], days, zone)
    ids = [r["mailing_id"] for r in recent] + [i for r in per_day for i in r["mailing_ids"]]
    since = min((r["started_at"] for r in recent), default=None)
    window_start = datetime.now(tz) - timedelta(days=days)
    since = min(since, window_start) if since else window_start
    bounced = {
        r["mailing_id"]: r["bounced"]
        for r in await pool.fetch(Q["bounces_by_mailing"], list(set(ids)), since)
    }
    sends = [
        Send(
            mailing_id=r["mailing_id"],
            kind=r["kind"],
            status=r["status"],
            subject=r["subject"],
            started_at=r["started_at"],
            total=r["total"],
            sent=r["sent"],
            failed=r["failed"],
            suppressed=r["suppressed"],
            bounced=bounced.get(r["mailing_id"], 0),
        )
        for r in recent
    ]
    sent_by_day = {r["day"]: int(r["sent"]) for r in per_day}
    bounced_by_day = {r["day"]: sum(bounced.get(i, 0) for i in r["mailing_ids"]) for r in per_day}
    rates: list[float | None] = [
        (bounced_by_day[d] / sent_by_day[d]) if sent_by_day.get(d) else None for d in window
    ]
    return Dashboard(
        zone=zone,
        days=window,
        scheduled=await pool.fetch(Q["next_scheduled"]),
        upcoming_series=await pool.fetch(Q["upcoming_series"]),
        sends=sends,
        sent_per_day=[sent_by_day.get(d, 0) for d in window],
        bounce_rate_per_day=rates,
        topics=await topic_growth(pool, zone=zone, window=window),
        changes=await pool.fetch(Q["recent_subscriber_changes"], 10),
    )


async def topic_changes(pool: asyncpg.Pool, *, days: int, zone: str) -> list[list[Any]]:
    """[[day, slug, net change], ...] over the last `days` days in `zone`, kept as the
    topic counts are: at most COUNTS_MAX_AGE seconds old (a walk through the consent
    ledger takes about a second at 1,000,000 subscribers). The first read of a zone and
    window walks while it waits; a later one that finds them old walks in the background."""
    row = await pool.fetchrow(Q["get_topic_changes"], days, zone)
    if row is None:
        changes: list[list[Any]] = await pool.fetchval(Q["keep_topic_changes"], days, zone)
        return changes
    if row["age"] > COUNTS_MAX_AGE:
        in_background(
            f"topic_changes {days} {zone}", pool.fetchval(Q["keep_topic_changes"], days, zone)
        )
    return list(row["changes"])


async def topic_growth(
    pool: asyncpg.Pool, *, zone: str, window: list[date]
) -> list[dict[str, Any]]:
    """Active subscribers per topic at the end of each day of the window: today's exact
    count, walked back through the consent ledger's daily net changes."""
    kept = await topic_counts(pool)  # kept counts: at most COUNTS_MAX_AGE seconds old
    current = [
        {
            "slug": t["slug"],
            "name": t["name"],
            "active": kept.get(t["topic_id"], TopicCount()).active,
        }
        for t in await pool.fetch(Q["list_topics"])
    ]
    changes: dict[str, dict[date, int]] = {}
    for day, slug, change in await topic_changes(pool, days=len(window), zone=zone):
        changes.setdefault(slug, {})[date.fromisoformat(day)] = int(change)
    growth = []
    for topic in current:
        by_day = changes.get(topic["slug"], {})
        value = int(topic["active"])
        history: list[int] = []
        for day in reversed(window):
            history.append(max(value, 0))
            value -= by_day.get(day, 0)  # the day's change undone: the day before's count
        growth.append(
            {"name": topic["name"], "slug": topic["slug"], "active": int(topic["active"]),
             "history": list(reversed(history))}
        )  # fmt: skip
    return growth
