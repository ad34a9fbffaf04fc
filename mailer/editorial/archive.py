"""The public archive: digests and alerts that went out, and the items in them, each with
the corrections published since; their full text, the sitemap's entries, and search."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import asyncpg

from mailer.db import load_queries
from mailer.editorial import corrections, digests

Q = load_queries("editorial/archive")

# Longer queries are refused (a search box, not a document); pages beyond this are not kept.
MAX_QUERY_CHARS = 200
MAX_PAGE = 50
SITEMAP_LIMIT = 25_000  # each kind; the sitemaps.org limit is 50,000 URLs per file


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


async def items_of_mailing(pool: asyncpg.Pool, mailing_id: int) -> list[asyncpg.Record]:
    """The items a mailing carried, in its order, without the hidden ones."""
    return await pool.fetch(Q["mailing_items_public"], mailing_id)


async def items_of_mailings(
    pool: asyncpg.Pool, mailing_ids: list[int]
) -> dict[int, list[asyncpg.Record]]:
    """items_of_mailing for many mailings in one query."""
    found: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for row in await pool.fetch(Q["feed_items"], mailing_ids):
        found[row["mailing_id"]].append(row)
    return found


async def sitemap_entries(
    pool: asyncpg.Pool,
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """(mailings, items) the sitemap lists, each with when it last changed."""
    mailings = await pool.fetch(Q["sitemap_mailings"], SITEMAP_LIMIT)
    items = await pool.fetch(Q["sitemap_items"], SITEMAP_LIMIT)
    return mailings, items


@dataclass(frozen=True)
class SearchPage:
    results: list[asyncpg.Record]
    page: int
    has_next: bool


async def search(pool: asyncpg.Pool, query: str, *, page: int, per_page: int) -> SearchPage:
    """One page of items and digests matching the words, best first. The caller bounds
    the query's length and the page number."""
    rows = await pool.fetch(Q["search"], query, per_page + 1, (page - 1) * per_page)
    return SearchPage(results=rows[:per_page], page=page, has_next=len(rows) > per_page)
