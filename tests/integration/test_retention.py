"""Retention: old delivery rows and events are purged in batches, while who was sent which
item stays in the sent_items ledger, so a purged digest's items are still never sent twice
and a correction still reaches everyone who got the item."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from mailer.db import load_queries
from mailer.delivery.retention import purge_expired
from mailer.editorial import digests
from tests.support.factories import engine_settings
from tests.support.newsroom import add_item, add_reader, make_series, make_topics, mark_sent

DIGESTS = load_queries("editorial/digests")
ALERTS = load_queries("editorial/alerts")
CORRECTIONS = load_queries("editorial/corrections")


async def _digest_sent_long_ago(pool: asyncpg.Pool, tmp_path: Path) -> dict[str, int]:
    topics = await make_topics(pool)
    overdose = topics["overdose-prevention"]
    series_id = await make_series(pool)
    item = await add_item(pool, "Naloxone in every pharmacy", [overdose])
    readers = [
        await add_reader(pool, f"reader{n}@example.org", [overdose], series_id=series_id)
        for n in range(3)
    ]
    settings = engine_settings(tmp_path)
    digest = await digests.create_digest(pool, settings, series_id, now=datetime.now(UTC))
    assert digest is not None
    assert await digests.start(pool, settings, digest) == 3
    await mark_sent(pool, digest)
    await pool.execute(
        "UPDATE deliveries SET created_at = now() - interval '200 days', "
        "sent_at = now() - interval '200 days' WHERE mailing_id = $1",
        digest,
    )
    return {
        "series": series_id,
        "item": item,
        "digest": digest,
        "topic": overdose,
        "reader": readers[0],
    }


async def test_purged_deliveries_leave_the_ledger_behind(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    made = await _digest_sent_long_ago(pool, tmp_path)
    # An old transactional mail goes too; an old one still queued (a stuck retry) stays.
    for status in ("sent", "queued"):
        await pool.execute(
            "INSERT INTO deliveries (kind, recipient, status, created_at) "
            "VALUES ('confirm', 'x@example.org', $1, now() - interval '300 days')",
            status,
        )
    # Every event so far is made old; one written now stays.
    await pool.execute("UPDATE events SET created_at = now() - interval '400 days'")
    events_before = await pool.fetchval("SELECT count(*) FROM events")
    assert events_before > 0
    await pool.execute("INSERT INTO events (type, subject) VALUES ('test.new', 'test')")

    purged = await purge_expired(
        pool, deliveries_days=180, events_days=365, now=datetime.now(UTC), batch=2
    )

    assert purged[0] == 4  # three digest rows and the transactional one, in batches of 2
    left = await pool.fetch("SELECT kind, status FROM deliveries")
    assert [(r["kind"], r["status"]) for r in left] == [("confirm", "queued")]
    assert (
        await pool.fetchval("SELECT count(*) FROM sent_items WHERE item_id = $1", made["item"]) == 3
    )
    assert purged[1] == events_before
    remaining = await pool.fetch("SELECT type FROM events")
    assert [r["type"] for r in remaining] == ["test.new"]

    # Never twice: the digest's audience is empty again, as it was before the purge.
    audience = await pool.fetch(DIGESTS["digest_audience"], made["digest"], made["series"])
    assert audience == []
    preview = await pool.fetchval(DIGESTS["items_for_subscriber"], made["digest"], made["reader"])
    assert preview == []
    alert = await pool.fetch(ALERTS["alert_audience"], made["item"], [made["topic"]])
    assert alert == []  # (these readers do not accept alerts; the ledger is checked anyway)
    # A correction still reaches the three readers, and the item counts as sent.
    correction = await pool.fetch(
        CORRECTIONS["correction_audience"], made["item"], datetime.now(UTC)
    )
    assert len(correction) == 3
    assert await pool.fetchval(CORRECTIONS["was_sent"], made["item"]) is True


async def test_nothing_recent_or_unfinished_is_purged(pool: asyncpg.Pool, tmp_path: Path) -> None:
    made = await _digest_sent_long_ago(pool, tmp_path)
    await pool.execute(
        "UPDATE mailings SET status = 'sending' WHERE mailing_id = $1", made["digest"]
    )
    await pool.execute("UPDATE events SET created_at = now() - interval '400 days'")
    purged = await purge_expired(pool, deliveries_days=180, events_days=365, now=datetime.now(UTC))
    assert purged[0] == 0
    kept = await pool.fetchval(
        "SELECT count(*) FROM events WHERE subject = 'digest' AND subject_id = $1", made["digest"]
    )
    assert kept > 0  # the events of a mailing still sending stay
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 3  # its mailing is sending
    await pool.execute("UPDATE mailings SET status = 'sent' WHERE mailing_id = $1", made["digest"])
    deliveries, _ = await purge_expired(
        pool, deliveries_days=365, events_days=365, now=datetime.now(UTC)
    )
    assert deliveries == 0  # 200 days old, kept for 365
    assert await pool.fetchval("SELECT count(*) FROM sent_items") == 0
