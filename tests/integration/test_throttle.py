"""Per receiving domain throttling against the real engine: a domain that answers 421 4.7.0
is paused on its own while mail to other domains keeps flowing at full speed."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg

from tests.support import mailings as support_mailings
from tests.support.factories import add_subscribers, digest_mailing, engine_settings, running_worker
from tests.support.smtp_sink import SmtpSink


async def test_a_deferring_domain_is_paused_alone(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    await add_subscribers(pool, 30, prefix="reader")
    gmail_ids = await add_subscribers(pool, 30, prefix="friend")
    await pool.execute(
        "UPDATE subscribers SET email = replace(email, '@example.org', '@gmail.com'), "
        "email_key = replace(email_key, '@example.org', '@gmail.com') "
        "WHERE subscriber_id = ANY($1::bigint[])",
        gmail_ids,
    )
    gmail = [f"friend{i}@gmail.com" for i in range(30)]
    smtp_sink.handler.rcpt_replies = dict.fromkeys(gmail, "421 4.7.0 Try again later")
    settings = engine_settings(tmp_path, smtp_concurrency=4, throttle_other="0")
    mailing_id = await digest_mailing(pool)
    started = time.monotonic()
    await support_mailings.start_sending(pool, mailing_id)
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(30, timeout=20)
        elapsed = time.monotonic() - started
    rows = await pool.fetch(
        "SELECT recipient, status, last_reply, next_attempt_at - now() AS wait "
        "FROM deliveries WHERE mailing_id = $1 AND recipient LIKE '%@gmail.com'",
        mailing_id,
    )
    assert sorted(r.rcpt_tos[0] for r in smtp_sink.received) == sorted(
        f"reader{i}@example.org" for i in range(30)
    )
    # Full speed for example.org: no sender backed off because of Gmail's 421s (before,
    # each 421 counted as a broken connection, 0.5 s doubling per sender).
    assert elapsed < 8, elapsed
    assert len(rows) == 30 and all(r["status"] == "deferred" for r in rows), rows
    asked = [r for r in rows if r["last_reply"].startswith("421")]
    held = [r for r in rows if r["last_reply"] == "throttled for its receiving domain"]
    # Only the transactions already under way when the first 421 came were tried; the rest
    # waited without a word to Gmail's servers, until the group's pause (30 s) is over.
    assert 1 <= len(asked) <= settings.smtp_concurrency, asked
    assert len(asked) + len(held) == 30
    assert all(r["wait"].total_seconds() > 20 for r in held), held
