"""What the console's admin pages need beside the domain modules: figures next to topics and
feed sources, editor accounts by id, and the rule that an admin cannot lock everyone out.

Changes go through the domain modules (topics, feeds, series, api_keys, editors), the same
functions the API and the CLI call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.accounts import editors
from mailer.db import load_queries
from mailer.errors import Conflict, InvalidInput, NotFound

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


async def get_editor(pool: asyncpg.Pool, editor_id: int) -> asyncpg.Record:
    row = await pool.fetchrow(Q["get_editor"], editor_id)
    if row is None:
        raise NotFound(f"editor account {editor_id} does not exist")
    return row


async def change_editor(
    pool: asyncpg.Pool,
    editor_id: int,
    *,
    actor_id: int,
    role: str | None = None,
    disabled: bool | None = None,
) -> asyncpg.Record:
    """Change an account's role or access, refusing what would leave no enabled admin or
    would lock the acting admin out of this page. One transaction, serialised with every
    other such change (an advisory lock), so two admins demoting each other at once cannot
    both succeed. Disabling ends the account's sessions, as `editors.disable_editor` does."""
    if role is not None and role not in {r.value for r in editors.Role}:
        raise InvalidInput("invalid role", {"role": "editor or admin"})
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q["lock_editor_roles"])
        row = await conn.fetchrow(Q["get_editor"], editor_id)
        if row is None:
            raise NotFound(f"editor account {editor_id} does not exist")
        takes_admin_away = row["role"] == "admin" and (role == "editor" or disabled is True)
        if takes_admin_away and editor_id == actor_id:
            raise Conflict("You cannot remove your own admin access; ask another admin.")
        if takes_admin_away and not await conn.fetchval(Q["other_enabled_admins"], editor_id):
            raise Conflict(f"{row['email']} is the last enabled admin.")
        # The foundation's statements, on this transaction's connection.
        if role is not None:
            await conn.execute(editors.Q["set_role"], editor_id, role)
        if disabled is True:
            await conn.execute(editors.Q["disable_editor"], editor_id)
            await conn.execute(editors.Q["delete_editor_sessions"], editor_id)
        elif disabled is False:
            await conn.execute(editors.Q["enable_editor"], editor_id)
    return row
