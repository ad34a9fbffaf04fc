"""A sent digest in the public archive, for the archive's tests (integration and browser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from mailer.config import Settings
from mailer.content.items import store_items
from mailer.content.parse import ParsedItem
from mailer.editorial import digests, series

NOW = datetime.now(UTC)

STORIES = [
    ParsedItem(
        guid="naloxone", link="https://news.example.org/naloxone",
        title="Naloxone vending machines reach every library",
        summary_html="<p>Free <strong>naloxone</strong> kits are now in vending machines "
        "at all 14 branches.</p><p>Librarians were trained to use them.</p>",
        summary_text="Free naloxone kits are now in vending machines at all 14 branches. "
        "Librarians were trained to use them.",
        image_url="https://news.example.org/img/naloxone.jpg", image_alt="A vending machine",
        language="en", published_at=NOW - timedelta(hours=2),
    ),
    ParsedItem(
        guid="sobredosis", link="https://news.example.org/es/sobredosis",
        title="Las sobredosis bajan en la ciudad",
        summary_html="<p>Las muertes por sobredosis bajaron un 20 % este año.</p>",
        summary_text="Las muertes por sobredosis bajaron un 20 % este año.",
        language="es", published_at=NOW - timedelta(hours=3),
    ),
]  # fmt: skip


async def sent_digest(
    pool: asyncpg.Pool,
    settings: Settings,
    topic_id: int,
    extra: list[ParsedItem] = (),  # type: ignore[assignment]
) -> tuple[int, str, dict[str, int]]:
    """(mailing_id, slug, guid -> item_id) of a digest with STORIES (and `extra`), sent."""
    async with pool.acquire() as conn, conn.transaction():
        source_id = await conn.fetchval("SELECT source_id FROM feed_sources WHERE kind = 'push'")
        stored = await store_items(conn, source_id, [*STORIES, *extra], lambda _: [topic_id])
    made = await series.create_series(
        pool, name="Weekly", cron="0 9 * * tue", timezone="UTC", now=NOW - timedelta(days=1)
    )
    mailing_id = await digests.create_digest(pool, settings, made["series_id"], now=NOW)
    assert mailing_id is not None
    ids = stored.item_ids
    await digests.edit_digest(
        pool, settings, mailing_id, subject="Weekly health news",
        intro_md="This week: *naloxone* in libraries and fewer overdoses.",
        item_ids=[ids[g] for g in ids],
    )  # fmt: skip
    await pool.execute(
        "UPDATE mailings SET status = 'sent', started_at = now(), finished_at = now() "
        "WHERE mailing_id = $1",
        mailing_id,
    )
    slug = await pool.fetchval("SELECT slug FROM mailings WHERE mailing_id = $1", mailing_id)
    return mailing_id, slug, dict(ids)
