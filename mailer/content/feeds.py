"""Feed sources: managed by editors, polled on a schedule or on demand.

A poll fetches (conditional GET), parses, sanitises and upserts the items in one
transaction; a failing source records its error and backs off, and never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg

from mailer.config import redact_url
from mailer.content.items import ItemBatch, topic_ids_by_slug, topics_by_rules
from mailer.content.parse import NotAFeed, ParsedItem, open_feed
from mailer.db import Connection, load_queries, record_json
from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.fetch import FetchError, check_url, fetch

Q = load_queries("content/feeds")
log = logging.getLogger(__name__)

_CONCURRENT_POLLS = 4


def source_json(row: asyncpg.Record) -> dict[str, Any]:
    data = record_json(row)
    data.pop("kind", None)
    return data


async def _check_topics(pool: asyncpg.Pool, slugs: list[str], rules: dict[str, Any]) -> None:
    async with pool.acquire() as conn:
        known = await topic_ids_by_slug(conn)
    problems = {}
    unknown = [s for s in slugs if s not in known]
    if unknown:
        problems["topics"] = f"unknown topics: {', '.join(unknown[:5])}"
    if not isinstance(rules, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(s, str) for s in v)
        for k, v in rules.items()
    ):
        problems["category_rules"] = 'a map of feed category to topic slugs: {"Opioids": ["x"]}'
    else:
        bad = [s for v in rules.values() for s in v if s not in known]
        if bad:
            problems["category_rules"] = f"unknown topics: {', '.join(bad[:5])}"
    if problems:
        raise InvalidInput("invalid feed source", problems)


def _normalise_rules(rules: dict[str, list[str]]) -> dict[str, list[str]]:
    return {category.strip().casefold(): slugs for category, slugs in rules.items()}


async def create_source(
    pool: asyncpg.Pool,
    *,
    url: str,
    name: str = "",
    topics: list[str] | None = None,
    category_rules: dict[str, list[str]] | None = None,
    poll_interval: int = 900,
) -> dict[str, Any]:
    try:
        check_url(url, allow_private=True)  # the network check happens at fetch time
    except FetchError as exc:
        raise InvalidInput("invalid feed source", {"url": str(exc)}) from exc
    if not 5 <= poll_interval <= 604_800:
        raise InvalidInput("invalid feed source", {"poll_interval": "5 seconds to 7 days"})
    await _check_topics(pool, topics or [], category_rules or {})
    try:
        row = await pool.fetchrow(
            Q["create_source"],
            url,
            name.strip()[:200],
            topics or [],
            _normalise_rules(category_rules or {}),
            poll_interval,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("that feed is already a source") from exc
    assert row is not None
    return source_json(row)


async def list_sources(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [source_json(r) for r in await pool.fetch(Q["list_sources"])]


async def update_source(
    pool: asyncpg.Pool,
    source_id: int,
    *,
    name: str | None = None,
    topics: list[str] | None = None,
    category_rules: dict[str, list[str]] | None = None,
    poll_interval: int | None = None,
    paused: bool | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """Change what is given. A new address (a feed that moved) is polled at once, afresh;
    the items stay, and the same guids at the new address update them, not duplicate them."""
    if url is not None:
        url = url.strip()
        try:
            check_url(url, allow_private=True)  # the network check happens at fetch time
        except FetchError as exc:
            raise InvalidInput("invalid feed source", {"url": str(exc)}) from exc
    if poll_interval is not None and not 5 <= poll_interval <= 604_800:
        raise InvalidInput("invalid feed source", {"poll_interval": "5 seconds to 7 days"})
    await _check_topics(pool, topics or [], category_rules or {})
    try:
        row = await pool.fetchrow(
            Q["update_source"],
            source_id,
            name,
            topics,
            _normalise_rules(category_rules) if category_rules is not None else None,
            poll_interval,
            paused,
            url,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("that feed is already a source") from exc
    if row is None:
        raise NotFound(f"feed source {source_id} does not exist")
    return source_json(row)


async def delete_source(pool: asyncpg.Pool, source_id: int) -> None:
    """Remove a source; its items stay (they may be in digests already)."""
    if await pool.fetchval(Q["delete_source"], source_id) is None:
        raise NotFound(f"feed source {source_id} does not exist")


@dataclass(frozen=True)
class PollResult:
    source_id: int
    status: int | None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str | None = None
    warning: str | None = None


async def poll_source(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    source: asyncpg.Record,
    *,
    allow_private: bool,
    trusted: Collection[str] = (),
) -> PollResult:
    source_id = source["source_id"]
    try:
        fetched = await fetch(
            session,
            source["url"],
            etag=source["etag"],
            last_modified=source["last_modified"],
            allow_private=allow_private,
            trusted=trusted,
        )
        body_hash = hashlib.sha256(fetched.body).digest() if fetched.status == 200 else None
        if fetched.status == 304 or body_hash == source["body_hash"]:
            await pool.execute(
                Q["record_success"], source_id, fetched.status, source["last_warning"],
                fetched.etag, fetched.last_modified, source["items_seen"], None,
            )  # fmt: skip
            return PollResult(source_id, fetched.status, unchanged=source["items_seen"])
        feed, chunks = await asyncio.to_thread(
            open_feed, fetched.body, fetched.content_type, fetched.url
        )
    except (FetchError, NotAFeed) as exc:
        status = exc.status if isinstance(exc, FetchError) else 200
        await pool.execute(Q["record_failure"], source_id, status, str(exc)[:1000])
        log.warning("feed %d (%s): %s", source_id, redact_url(source["url"]), exc)
        return PollResult(source_id, status, error=str(exc))
    async with pool.acquire() as conn, conn.transaction():
        known = await topic_ids_by_slug(conn)
        rules = source["category_rules"] or {}
        topics_for = {c: [known[s] for s in slugs if s in known] for c, slugs in rules.items()}
        defaults = [known[s] for s in source["default_topics"] if s in known]
        batch = ItemBatch(source_id, topics_by_rules(defaults, topics_for))
        count = await _store_as_made(conn, batch, chunks)
        result = batch.result()
        warning = "; ".join(dict.fromkeys(feed.warnings))[:1000] or None
        await conn.execute(
            Q["record_success"],
            source_id,
            fetched.status,
            warning,
            fetched.etag,
            fetched.last_modified,
            count,
            body_hash,
        )
    log.info(
        "feed %d: %d new, %d updated, %d unchanged", source_id, result.created, result.updated,
        result.unchanged,
    )  # fmt: skip
    return PollResult(
        source_id, 200, result.created, result.updated, result.unchanged, warning=warning
    )


async def _store_as_made(
    conn: Connection, batch: ItemBatch, chunks: Iterator[list[ParsedItem]]
) -> int:
    """Each chunk of items stored while a worker thread makes and sanitises the next, so that
    PostgreSQL (its indexes, the search index above all) works on one core while Python
    parses on another; the number of items made."""
    loop = asyncio.get_running_loop()
    made: asyncio.Queue[tuple[list[ParsedItem] | None, BaseException | None]] = asyncio.Queue()
    stop = threading.Event()

    def hand(chunk: list[ParsedItem] | None, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(made.put_nowait, (chunk, error))

    def make() -> None:
        try:
            for chunk in chunks:
                hand(chunk, None)
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the poll, which fails as parse_feed did
            hand(None, exc)
            return
        hand(None, None)

    maker = asyncio.ensure_future(asyncio.to_thread(make))
    count = 0
    try:
        while True:
            chunk, error = await made.get()
            if error is not None:
                raise error
            if chunk is None:
                return count
            await batch.add(conn, chunk)
            count += len(chunk)
    finally:
        stop.set()
        await asyncio.wait({maker})


async def poll_due(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    *,
    allow_private: bool,
    trusted: Collection[str] = (),
    limit: int = 20,
) -> list[PollResult]:
    """Poll the sources whose time has come (safe on several instances at once)."""
    due = await pool.fetch(Q["claim_due_sources"], limit)
    return await _poll_all(pool, session, due, allow_private=allow_private, trusted=trusted)


async def poll_now(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    source_id: int | None = None,
    *,
    allow_private: bool,
    trusted: Collection[str] = (),
) -> list[PollResult]:
    """Poll one source, or every unpaused one, right away (editors' "poll now")."""
    if source_id is not None:
        row = await pool.fetchrow(Q["claim_source"], source_id)
        if row is None:
            raise NotFound(f"feed source {source_id} does not exist")
        rows = [row]
    else:
        rows = [r for r in await pool.fetch(Q["list_sources"]) if not r["paused"]]
    return await _poll_all(pool, session, rows, allow_private=allow_private, trusted=trusted)


async def _poll_all(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    sources: list[asyncpg.Record],
    *,
    allow_private: bool,
    trusted: Collection[str],
) -> list[PollResult]:
    gate = asyncio.Semaphore(_CONCURRENT_POLLS)

    async def one(source: asyncpg.Record) -> PollResult:
        async with gate:
            return await poll_source(
                pool, session, source, allow_private=allow_private, trusted=trusted
            )

    return list(await asyncio.gather(*(one(s) for s in sources)))


async def list_source_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """Every source as stored (the console formats them itself)."""
    return await pool.fetch(Q["list_sources"])
