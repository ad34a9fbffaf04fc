"""A small newsroom for alert and correction tests: topics, items, readers, a series, the
editor API and the signed content webhook."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.accounts.api_keys import create_api_key
from mailer.audience.topics import create_topic
from mailer.content.items import store_items
from mailer.content.parse import ParsedItem
from mailer.editorial import series
from mailer.signatures import sign

Client = TestClient[web.Request, web.Application]
WEBHOOK_SECRET = "cms-webhook-secret-0123456789"
NOW = datetime.now(UTC)


async def make_topics(pool: asyncpg.Pool) -> dict[str, int]:
    made = [
        await create_topic(pool, name=name, position=i)
        for i, name in enumerate(("Overdose Prevention", "Tobacco Control", "Road Safety"))
    ]
    return {t.slug: t.topic_id for t in made}


async def make_series(pool: asyncpg.Pool) -> int:
    created = await series.create_series(
        pool, name="Weekly", cron="0 9 * * tue", timezone="UTC", now=NOW
    )
    return int(created["series_id"])


async def add_item(
    pool: asyncpg.Pool, title: str, topic_ids: list[int], *, hours_ago: float = 1.0
) -> int:
    item = ParsedItem(
        guid=f"test:{title}",
        link=f"https://news.example.org/{abs(hash(title))}",
        title=title,
        summary_html=f"<p>About {title}.</p>",
        summary_text=f"About {title}.",
        published_at=NOW - timedelta(hours=hours_ago),
    )
    async with pool.acquire() as conn, conn.transaction():
        source_id = await conn.fetchval("SELECT source_id FROM feed_sources WHERE kind = 'push'")
        stored = await store_items(conn, source_id, [item], lambda _: topic_ids)
    return stored.item_ids[f"test:{title}"]


async def add_reader(
    pool: asyncpg.Pool,
    email: str,
    topic_ids: list[int],
    *,
    alerts: bool = False,
    status: str = "active",
    series_id: int | None = None,
    name: str | None = None,
) -> int:
    subscriber_id: int = await pool.fetchval(
        "INSERT INTO subscribers (email, email_key, name, status, accepts_alerts) "
        "VALUES ($1, $1, $2, $3, $4) RETURNING subscriber_id",
        email,
        name,
        status,
        alerts,
    )
    await pool.execute(
        "INSERT INTO subscriber_topics SELECT $1, unnest($2::bigint[])", subscriber_id, topic_ids
    )
    if series_id is not None:
        await pool.execute(
            "INSERT INTO subscriber_series VALUES ($1, $2)", subscriber_id, series_id
        )
    return subscriber_id


async def editor_headers(pool: asyncpg.Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "Ana Editor", "admin")
    return {"Authorization": f"Bearer {key}"}


async def push(client: Client, payload: object) -> aiohttp.ClientResponse:
    body = json.dumps(payload).encode()
    return await client.post(
        "/webhooks/content",
        data=io.BytesIO(body),
        headers={
            "Content-Type": "application/json",
            "Mailer-Signature": sign(WEBHOOK_SECRET, body),
        },
    )


async def counts(pool: asyncpg.Pool) -> dict[str, Any]:
    """What a refused request must leave untouched."""
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM mailings) AS mailings, "
        "(SELECT count(*) FROM alerts) AS alerts, "
        "(SELECT count(*) FROM corrections) AS corrections, "
        "(SELECT count(*) FROM deliveries) AS deliveries, "
        "(SELECT count(*) FROM events) AS events, "
        "(SELECT count(*) FROM items) AS items, "
        "(SELECT string_agg(title, '|' ORDER BY item_id) FROM items) AS titles"
    )
    return dict(row) if row else {}


async def mark_sent(pool: asyncpg.Pool, mailing_id: int) -> None:
    """For tests about what follows a send (the engine itself is tested elsewhere)."""
    await pool.execute(
        "UPDATE deliveries SET status = 'sent', sent_at = now() - interval '1 second', "
        "finished_at = now() WHERE mailing_id = $1",
        mailing_id,
    )
    await pool.execute(
        "UPDATE mailings SET status = 'sent', finished_at = now() WHERE mailing_id = $1",
        mailing_id,
    )
