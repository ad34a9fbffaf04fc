"""The public archive: digests and alerts that went out, and the items in them, each with
the corrections published since."""

from __future__ import annotations

import asyncpg

from mailer.editorial import corrections, digests


async def list_archive(pool: asyncpg.Pool, limit: int = 200) -> list[asyncpg.Record]:
    """Sent mailings, newest first."""
    return await pool.fetch(digests.Q["archive"], limit)


async def archived_mailing(pool: asyncpg.Pool, slug: str) -> asyncpg.Record | None:
    return await pool.fetchrow(digests.Q["archived_digest"], slug)


async def archived_item(pool: asyncpg.Pool, item_id: int) -> asyncpg.Record | None:
    """An item with the mailings it went out in (none: it was never sent)."""
    return await pool.fetchrow(corrections.Q["archived_item"], item_id)


async def corrections_of_mailing(pool: asyncpg.Pool, mailing_id: int) -> list[asyncpg.Record]:
    return await pool.fetch(corrections.Q["corrections_of_mailing"], mailing_id)


async def corrections_of_item(pool: asyncpg.Pool, item_id: int) -> list[asyncpg.Record]:
    return await pool.fetch(corrections.Q["corrections_of_item"], item_id)
