"""What the console's admin pages need beside the domain modules: figures next to topics and
feed sources, editor accounts by id, and the rule that an admin cannot lock everyone out.

Changes go through the domain modules (topics, feeds, series, api_keys, editors), the same
functions the API and the CLI call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.db import load_queries
from mailer.errors import NotFound

Q = load_queries("editorial/counts")
log = logging.getLogger(__name__)

COUNTS_MAX_AGE = 60  # seconds the per-topic and per-series counts may lag (see audience_counts)
# Background recounts in flight in this process, by name (asyncio keeps only weak references
# to tasks).
_recounts: dict[str, asyncio.Future[object]] = {}


@dataclass(frozen=True)
class TopicCount:
    subscribers: int = 0
    active: int = 0


async def topic_counts(pool: asyncpg.Pool, topic_id: int | None = None) -> dict[int, TopicCount]:
    """Subscribers per topic (all of them, and the active ones); one topic's when given. Kept
    counts: at most COUNTS_MAX_AGE seconds old (see audience_counts)."""
    kept = await audience_counts(pool)
    return {
        key: TopicCount(subscribers, active)
        for (kind, key), (subscribers, active) in kept.items()
        if kind == "topic" and topic_id in (None, key)
    }


async def series_counts(pool: asyncpg.Pool) -> dict[int, int]:
    """Active subscribers per series (kept counts, as topic_counts)."""
    kept = await audience_counts(pool)
    return {key: active for (kind, key), (_, active) in kept.items() if kind == "series"}


async def audience_counts(pool: asyncpg.Pool) -> dict[tuple[str, int], tuple[int, int]]:
    """(kind, id) -> (subscribers, active) for every topic and series that has anyone.

    Counting them takes a scan of every subscriber (1-2 s at a million), so the counts are
    kept (table audience_counts) and read: the first read ever counts while it waits; a read
    that finds them older than COUNTS_MAX_AGE starts a recount in the background and answers
    with what is kept. The worker's tick recounts on the same interval, so the counts an
    editor sees lag the truth by at most COUNTS_MAX_AGE seconds (plus one recount's time)."""
    rows = await pool.fetch(Q["list_audience_counts"])
    if not rows:
        await recount_audience(pool)
        rows = await pool.fetch(Q["list_audience_counts"])
    elif max(r["age"] for r in rows) > COUNTS_MAX_AGE:
        in_background("audience_counts", recount_audience(pool))
    return {(r["kind"], r["key_id"]): (r["subscribers"], r["active"]) for r in rows}


async def recount_audience(pool: asyncpg.Pool) -> bool:
    """Count subscribers per topic and series again, in one transaction that replaces the
    kept counts. False when another instance is counting right now (it will keep them)."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(Q["lock_audience_counts"]):
            return False
        await conn.execute(Q["delete_audience_counts"])
        await conn.execute(Q["count_audience"])
    return True


def in_background(name: str, work: Coroutine[Any, Any, object]) -> None:
    """Run `work` in a task of its own unless one of that name is still running here (then
    it is dropped); a failure is logged."""
    if name in _recounts:
        work.close()
        return
    task = asyncio.ensure_future(work)
    _recounts[name] = task  # a reference until it ends (the loop keeps only weak ones)

    def done(task: asyncio.Future[object]) -> None:
        _recounts.pop(name, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("recounting %s failed: %s", name, exc)

    task.add_done_callback(done)


async def topic_usage(pool: asyncpg.Pool, slug: str, topic_id: int) -> dict[str, int]:
    """Feed sources and items that name the topic (they keep the name when it goes)."""
    row = await pool.fetchrow(Q["topic_usage"], slug, topic_id)
    assert row is not None
    return {"sources": row["sources"], "items": row["items"]}


async def source_item_counts(pool: asyncpg.Pool, source_ids: list[int]) -> dict[int, Any]:
    """Items stored per source, with the newest one's arrival time."""
    rows = await pool.fetch(Q["source_item_counts"], source_ids)
    return {r["source_id"]: r for r in rows}


async def get_source(pool: asyncpg.Pool, source_id: int) -> asyncpg.Record:
    row = await pool.fetchrow(Q["get_source"], source_id)
    if row is None:
        raise NotFound(f"feed source {source_id} does not exist")
    return row
