"""A digest sent through the real engine to the SMTP sink, for the click-count tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from mailer.config import Settings
from mailer.editorial import digests
from mailer.feedback.clicks import ClickCounter
from tests.support.factories import running_worker
from tests.support.newsroom import add_item, add_reader, make_series, make_topics
from tests.support.smtp_sink import SmtpSink

REDIRECT = re.compile(r"https://news\.example\.org(/r/[A-Za-z0-9_-]+)")
TODAY = datetime.now(UTC).date()
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@dataclass
class SentDigest:
    mailing_id: int
    items: dict[str, int]  # title -> item_id
    readers: dict[str, int]  # address -> subscriber_id
    texts: dict[str, str]  # address -> the plain-text part
    htmls: dict[str, str]  # address -> the HTML part


async def send_digest(
    pool: asyncpg.Pool, db_url: str, sink: SmtpSink, settings: Settings
) -> SentDigest:
    """Three items of one topic, two readers, one digest sent to both."""
    topics = await make_topics(pool)
    topic = topics["overdose-prevention"]
    series_id = await make_series(pool)
    items = {t: await add_item(pool, t, [topic]) for t in ("Naloxone", "Test strips", "Shelters")}
    readers = {
        email: await add_reader(pool, email, [topic], series_id=series_id, name=name)
        for email, name in (("ana@example.org", "Ana"), ("ben@example.org", "Ben"))
    }
    mailing_id = await digests.create_digest(pool, settings, series_id, now=datetime.now(UTC))
    assert mailing_id is not None
    await digests.start(pool, settings, mailing_id)
    async with running_worker(pool, db_url, sink, settings):
        await sink.wait_for(2)
    texts, htmls = {}, {}
    for received in sink.received:
        message = received.message
        texts[received.rcpt_tos[0]] = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        htmls[received.rcpt_tos[0]] = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return SentDigest(mailing_id, items, readers, texts, htmls)


async def backdate(pool: asyncpg.Pool, mailing_id: int) -> None:
    """As if the mailing had started sending an hour ago (past the scanner window)."""
    await pool.execute(
        "UPDATE mailings SET started_at = now() - interval '1 hour' WHERE mailing_id = $1",
        mailing_id,
    )


async def counted(pool: asyncpg.Pool, counter: ClickCounter) -> dict[int, tuple[int, int]]:
    """item_id -> (clicks, filtered), after writing what the counter holds."""
    await counter.flush()
    rows = await pool.fetch(
        "SELECT item_id, sum(clicks)::int AS c, sum(filtered)::int AS f FROM click_counts "
        "GROUP BY item_id"
    )
    return {r["item_id"]: (r["c"], r["f"]) for r in rows}


async def clicked_digest(pool: asyncpg.Pool) -> dict[str, int]:
    """A sent digest of three items (two topics) with counts on two days, and an alert of
    one of them."""
    topics = await make_topics(pool)
    naloxone = await add_item(pool, "Naloxone", [topics["overdose-prevention"]])
    strips = await add_item(pool, "Test strips", [topics["overdose-prevention"]])
    parks = await add_item(pool, "=Smoke-free parks", [topics["tobacco-control"]])
    digest = await pool.fetchval(
        "INSERT INTO mailings (kind, status, subject, list_id, started_at) VALUES "
        "('digest', 'sent', 'Weekly news', 'digest', now() - interval '2 days') "
        "RETURNING mailing_id"
    )
    alert = await pool.fetchval(
        "INSERT INTO mailings (kind, status, subject, list_id, started_at) VALUES "
        "('alert', 'sent', '[Alert] Naloxone', 'alerts', now() - interval '1 day') "
        "RETURNING mailing_id"
    )
    await pool.execute(
        "INSERT INTO mailing_items (mailing_id, item_id) VALUES ($1, $2), ($1, $3), ($1, $4), "
        "($5, $2)", digest, naloxone, strips, parks, alert,
    )  # fmt: skip
    rows = [
        (digest, naloxone, TODAY - timedelta(days=1), 5, 2),
        (digest, naloxone, TODAY, 3, 0),
        (digest, parks, TODAY, 6, 1),
        (digest, strips, TODAY, 0, 4),
        (alert, naloxone, TODAY, 12, 3),
    ]
    await pool.executemany(
        "INSERT INTO click_counts (mailing_id, item_id, link, day, clicks, filtered) "
        "SELECT $1, $2, link, $3, $4, $5 FROM items WHERE item_id = $2",
        rows,
    )
    return {"digest": digest, "alert": alert, "naloxone": naloxone, "strips": strips,
            "parks": parks}  # fmt: skip
