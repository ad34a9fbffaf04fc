"""`mailer deliveries retry --failed`: mail that failed for good before a fix goes again,
only to whom may still get it, and reaches them."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg

from mailer.addresses import address_hash, address_key
from tests.support.factories import SECRET, engine_settings, running_worker
from tests.support.process import mailer_env
from tests.support.smtp_sink import SmtpSink

ENCODE_ERROR = "'ascii' codec can't encode character '\\xe9' (UnicodeEncodeError)"


def mailer(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_SECRET_KEY=SECRET,
                     MAILER_BASE_URL="https://news.example.org")  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "mailer", "deliveries", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def subscriber(pool: asyncpg.Pool, email: str, status: str) -> int:
    subscriber_id: int = await pool.fetchval(
        "INSERT INTO subscribers (email, email_key, status) VALUES ($1, $2, $3) "
        "RETURNING subscriber_id",
        email,
        address_key(email),
        status,
    )
    return subscriber_id


async def failed(
    pool: asyncpg.Pool,
    subscriber_id: int,
    kind: str,
    *,
    reply: str = ENCODE_ERROR,
    days_ago: float = 2,
    expired: bool = True,
    **columns: Any,
) -> int:
    """A delivery that failed `days_ago` (a confirmation's link, whose life ran out
    meanwhile if `expired`)."""
    payload = None
    if kind == "confirm":
        nonce = secrets.token_bytes(16)
        confirmation_id = await pool.fetchval(
            "INSERT INTO confirmations (subscriber_id, nonce, token_hash, created_at, expires_at)"
            " VALUES ($1, $2, $3, now() - make_interval(days => $4),"
            " now() + CASE WHEN $5 THEN interval '-1 day' ELSE interval '5 days' END)"
            " RETURNING confirmation_id",
            subscriber_id,
            nonce,
            secrets.token_bytes(32),
            int(days_ago),
            expired,
        )
        payload = {"confirmation_id": confirmation_id, "nonce": nonce.hex()}
    delivery_id: int = await pool.fetchval(
        "INSERT INTO deliveries (subscriber_id, kind, recipient, payload, status, attempts,"
        " created_at, finished_at, last_reply, mailing_id)"
        " SELECT $1, $2, email, $3, 'failed', 1, now() - make_interval(secs => $4 * 86400),"
        " now() - make_interval(secs => $4 * 86400), $5, $6 FROM subscribers"
        " WHERE subscriber_id = $1 RETURNING delivery_id",
        subscriber_id,
        kind,
        payload,
        float(days_ago),
        reply,
        columns.get("mailing_id"),
    )
    return delivery_id


async def statuses(pool: asyncpg.Pool) -> dict[int, str]:
    rows = await pool.fetch("SELECT delivery_id, status FROM deliveries")
    return {r["delivery_id"]: r["status"] for r in rows}


async def test_retry_failed_requeues_only_what_may_still_go_and_it_is_delivered(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    jose = await subscriber(pool, "josé@exämple.org", "pending")
    confirm_jose = await failed(pool, jose, "confirm")  # its link expired meanwhile
    ana = await subscriber(pool, "ana@example.org", "active")
    welcome_ana = await failed(pool, ana, "welcome")
    left = await subscriber(pool, "left@example.org", "unsubscribed")
    await failed(pool, left, "confirm")
    bounced = await subscriber(pool, "bounced@example.org", "pending")
    await failed(pool, bounced, "confirm")
    await pool.execute(
        "INSERT INTO suppressions (email_hash, reason) VALUES ($1, 'hard_bounce')",
        address_hash("bounced@example.org"),
    )
    twice = await subscriber(pool, "twice@example.org", "pending")
    older = await failed(pool, twice, "confirm", days_ago=3)
    newer = await failed(pool, twice, "confirm", days_ago=2)
    confirmed = await subscriber(pool, "done@example.org", "active")
    await failed(pool, confirmed, "confirm")  # confirmed through a later link
    long_ago = await failed(pool, ana, "already_subscribed", days_ago=30)
    mailing_id = await pool.fetchval(
        "INSERT INTO mailings (kind, subject, status, list_id) "
        "VALUES ('digest', 'Weekly', 'sent', 'x') RETURNING mailing_id"
    )
    digest = await failed(pool, ana, "digest", mailing_id=mailing_id)
    before = await statuses(pool)

    dry = mailer(tmp_path, db_url, "retry", "--failed", "--since", "2000-01-01", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "8 failed deliveries match; 4 would be queued again "
        "(1 already_subscribed, 2 confirm, 1 welcome)",
        "  1 left failed: a newer confirmation link was sent",
        "  2 left failed: no longer waiting for confirmation",
        "  1 left failed: the address is suppressed",
    ]
    assert await statuses(pool) == before

    since = mailer(tmp_path, db_url, "retry", "--failed", "--since", "not a time")
    assert since.returncode == 1
    assert "is not an ISO time" in since.stderr and "Traceback" not in since.stderr

    week_ago = (await pool.fetchval("SELECT now() - interval '7 days'")).isoformat()
    done = mailer(tmp_path, db_url, "retry", "--failed", "--since", week_ago)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "7 failed deliveries match; 3 queued again (2 confirm, 1 welcome)"
    )
    after = await statuses(pool)
    requeued = {confirm_jose, welcome_ana, newer}
    assert {d for d, s in after.items() if s == "queued"} == requeued
    assert after[older] == after[long_ago] == after[digest] == "failed"
    # The link never reached José: it works for a full lifetime from now.
    assert await pool.fetchval(
        "SELECT expires_at > now() + interval '6 days' FROM confirmations "
        "WHERE confirmation_id = (SELECT (payload->>'confirmation_id')::bigint "
        "FROM deliveries WHERE delivery_id = $1)",
        confirm_jose,
    )
    again = mailer(tmp_path, db_url, "retry", "--failed", "--kind", "confirm")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0].startswith("4 failed deliveries match; 0 queued again")

    async with running_worker(pool, db_url, smtp_sink, engine_settings(tmp_path)):
        mails = await smtp_sink.wait_for(3)
    assert sorted(r for m in mails for r in m.rcpt_tos) == [
        "ana@example.org",
        "josé@exämple.org",
        "twice@example.org",
    ]
    sent = await statuses(pool)
    assert {d for d, s in sent.items() if s == "sent"} == requeued


async def test_retry_failed_by_reason(pool: asyncpg.Pool, db_url: str, tmp_path: Path) -> None:
    ana = await subscriber(pool, "ana@example.org", "active")
    encoding = await failed(pool, ana, "welcome")
    ben = await subscriber(pool, "ben@example.org", "active")
    refused = await failed(pool, ben, "welcome", reply="554 5.7.1 message refused as spam")
    result = mailer(tmp_path, db_url, "retry", "--failed", "--reason", "unicodeencodeerror")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1 failed delivery matches; 1 queued again (1 welcome)"]
    after = await statuses(pool)
    assert (after[encoding], after[refused]) == ("queued", "failed")
    reply = await pool.fetchval(
        "SELECT last_reply FROM deliveries WHERE delivery_id = $1", encoding
    )
    assert reply.startswith("requeued by an operator; first queued ")
    assert "; had failed: 'ascii' codec" in reply


async def test_a_retried_old_mail_gets_a_full_retry_period_again(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    # Queued 5 days ago, past the 3-day retry deadline: a temporary failure after the
    # operator's retry failed it again at once, as the deadline counted from then.
    ana = await subscriber(pool, "ana@example.org", "active")
    welcome = await failed(pool, ana, "welcome", days_ago=5)
    done = mailer(tmp_path, db_url, "retry", "--failed")
    assert done.returncode == 0, done.stderr
    reply = await pool.fetchval("SELECT last_reply FROM deliveries WHERE delivery_id = $1", welcome)
    assert reply.startswith("requeued by an operator; first queued ")
    smtp_sink.handler.data_replies.append("451 4.3.0 try again later")
    async with running_worker(pool, db_url, smtp_sink, engine_settings(tmp_path)):
        await smtp_sink.wait_for(1, timeout=15)
    row = await pool.fetchrow(
        "SELECT status, attempts FROM deliveries WHERE delivery_id = $1", welcome
    )
    assert row is not None
    assert (row["status"], row["attempts"]) == ("sent", 2)
