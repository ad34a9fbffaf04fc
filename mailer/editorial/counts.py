"""What the console's admin pages need beside the domain modules: figures next to topics and
feed sources, editor accounts by id, and the rule that an admin cannot lock everyone out.

Changes go through the domain modules (topics, feeds, series, api_keys, editors), the same
functions the API and the CLI call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.db import load_queries
from mailer.errors import NotFound

Q = load_queries("editorial/counts")


@dataclass(frozen=True)
class TopicCount:
    subscribers: int = 0
    active: int = 0


async def topic_counts(pool: asyncpg.Pool, topic_id: int | None = None) -> dict[int, TopicCount]:
    """Subscribers per topic (all of them, and the active ones); one topic's when given."""
    rows = await pool.fetch(Q["topic_subscriber_counts"], topic_id)
    return {r["topic_id"]: TopicCount(r["subscribers"], r["active"]) for r in rows}


async def series_counts(pool: asyncpg.Pool) -> dict[int, int]:
    """Active subscribers per series."""
    return {r["series_id"]: r["active"] for r in await pool.fetch(Q["series_subscriber_counts"])}


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
