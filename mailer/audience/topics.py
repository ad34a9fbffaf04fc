"""Topics: what people subscribe to (e.g. Overdose Prevention)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.db import load_queries
from mailer.errors import Conflict, InvalidInput, NotFound

Q = load_queries("audience/topics")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Topic:
    topic_id: int
    slug: str
    name: str
    description: str
    public: bool
    position: int

    def as_json(self) -> dict[str, Any]:
        return {
            "topic_id": self.topic_id,
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "public": self.public,
            "position": self.position,
        }


def _topic(row: asyncpg.Record) -> Topic:
    return Topic(**dict(row))


def slug_for(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63] or "topic"


def _check(slug: str, name: str | None, description: str | None) -> None:
    problems = {}
    if not SLUG.match(slug):
        problems["slug"] = "lower-case letters, digits and dashes, at most 63 characters"
    if name is not None and not 1 <= len(name.strip()) <= 100:
        problems["name"] = "1 to 100 characters"
    if description is not None and len(description) > 1000:
        problems["description"] = "at most 1000 characters"
    if problems:
        raise InvalidInput("invalid topic", problems)


async def create_topic(
    pool: asyncpg.Pool,
    *,
    name: str,
    slug: str | None = None,
    description: str = "",
    public: bool = True,
    position: int = 0,
) -> Topic:
    slug = slug or slug_for(name)
    _check(slug, name, description)
    try:
        row = await pool.fetchrow(
            Q["create_topic"], slug, name.strip(), description.strip(), public, position
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a topic with the slug {slug!r} exists already") from exc
    assert row is not None
    return _topic(row)


async def list_topics(pool: asyncpg.Pool, *, public_only: bool = False) -> list[Topic]:
    topics = [_topic(row) for row in await pool.fetch(Q["list_topics"])]
    return [t for t in topics if t.public] if public_only else topics


async def update_topic(
    pool: asyncpg.Pool,
    slug: str,
    *,
    name: str | None = None,
    description: str | None = None,
    public: bool | None = None,
    position: int | None = None,
) -> Topic:
    _check(slug, name, description)
    row = await pool.fetchrow(Q["update_topic"], slug, name, description, public, position)
    if row is None:
        raise NotFound(f"no topic {slug!r}")
    return _topic(row)


async def delete_topic(pool: asyncpg.Pool, slug: str) -> None:
    if await pool.fetchval(Q["delete_topic"], slug) is None:
        raise NotFound(f"no topic {slug!r}")
