"""The delivery engine against a real PostgreSQL and a real SMTP server (aiosmtpd)."""

import asyncio
import re
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from mailer.addresses import address_hash
from mailer.delivery import mailings
from mailer.delivery import queue as deliveries
from mailer.delivery.sender import Ledger
from mailer.models import DeliveryStatus
from mailer.tokens import Signer
from tests.support import mailings as support_mailings
from tests.support.factories import (
    SECRET,
    add_subscribers,
    digest_mailing,
    engine_settings,
    running_worker,
    statuses,
    wait_until,
)
from tests.support.smtp_sink import SmtpSink


async def enqueue_notice(pool: asyncpg.Pool, subscriber_id: int | None, recipient: str) -> int:
    async with pool.acquire() as conn, conn.transaction():
        return await deliveries.enqueue_transactional(
            conn,
            kind="notice",
            recipient=recipient,
            subscriber_id=subscriber_id,
            payload={"code": "A-1", "link": "https://news.example.org/x"},
        )


async def test_transactional_mail_is_sent_with_verp_and_stable_message_id(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    (subscriber_id,) = await add_subscribers(pool, 1, status="pending")
    settings = engine_settings(tmp_path)
    async with running_worker(pool, db_url, smtp_sink, settings):
        delivery_id = await enqueue_notice(pool, subscriber_id, "reader0@example.org")
        (mail,) = await smtp_sink.wait_for(1)
    row = await support_mailings.get_delivery(pool, delivery_id)
    assert row is not None
    assert row["status"] == "sent"
    assert row["attempts"] == 1
    message = mail.message
    assert message["Message-ID"] == row["message_id"]
    # Unguessable (a MAC of the secret key) but naming the delivery for bounce matching.
    assert re.fullmatch(
        rf"<{delivery_id}\.notice\.[a-z2-7]{{24}}@health\.example\.org>", message["Message-ID"]
    )
    assert mail.rcpt_tos == ["reader0@example.org"]
    assert Signer(SECRET).read_bounce_address(mail.mail_from) == delivery_id
    assert message["List-Unsubscribe"] is None  # not list mail
    assert "Hello Reader 0," in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_digest_fans_out_to_active_subscribers_and_finishes(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    active = await add_subscribers(pool, 60)
    await add_subscribers(pool, 5, status="unsubscribed", prefix="gone")
    await add_subscribers(pool, 5, status="pending", prefix="pending")
    await pool.execute(
        "UPDATE subscribers SET paused_until = now() + interval '1 month' WHERE subscriber_id = $1",
        active[0],
    )
    mailing_id = await digest_mailing(pool)
    created = await support_mailings.start_sending(pool, mailing_id)
    assert created == 59  # active and not paused only

    settings = engine_settings(tmp_path)
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(59)

        async def finished() -> bool:
            return (await mailings.progress(pool, mailing_id)).status == "sent"

        await wait_until(finished)
    received = Counter(smtp_sink.recipients())
    assert len(received) == 59
    assert set(received.values()) == {1}
    assert "reader0@example.org" not in received
    message = smtp_sink.received[0].message
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://news.example.org/unsubscribe/")
    progress = await mailings.progress(pool, mailing_id)
    assert progress.counts[DeliveryStatus.SENT] == 59
    assert progress.done == progress.total == 59
    events = await pool.fetch(
        "SELECT type FROM events WHERE subject = 'digest' AND subject_id = $1 ORDER BY event_id",
        mailing_id,
    )
    assert [e["type"] for e in events] == ["digest.sending", "digest.sent"]


async def test_start_sending_twice_is_a_conflict(pool: asyncpg.Pool) -> None:
    import pytest

    from mailer.errors import Conflict, NotFound

    await add_subscribers(pool, 3)
    mailing_id = await digest_mailing(pool)
    results = await asyncio.gather(
        support_mailings.start_sending(pool, mailing_id),
        support_mailings.start_sending(pool, mailing_id),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "int"]
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 3
    with pytest.raises(Conflict):
        await mailings.resume(pool, mailing_id)
    with pytest.raises(NotFound):
        await mailings.pause(pool, 999_999)


async def test_unsubscribe_after_fan_out_is_honoured(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    ids = await add_subscribers(pool, 10)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    await pool.execute(
        "UPDATE subscribers SET status = 'unsubscribed' WHERE subscriber_id = ANY($1)", ids[:3]
    )
    await pool.execute(
        "UPDATE subscribers SET status = 'suppressed' WHERE subscriber_id = $1", ids[3]
    )
    async with running_worker(pool, db_url, smtp_sink, engine_settings(tmp_path)):

        async def settled() -> bool:
            return (await mailings.progress(pool, mailing_id)).status == "sent"

        await wait_until(settled)
    assert len(smtp_sink.received) == 6
    assert await statuses(pool, mailing_id) == {"sent": 6, "suppressed": 4}
    assert not {f"reader{i}@example.org" for i in range(4)} & set(smtp_sink.recipients())


async def test_transactional_mail_does_not_wait_behind_a_digest(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    await add_subscribers(pool, 400)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    confirm_id = await enqueue_notice(pool, None, "urgent@example.org")
    settings = engine_settings(tmp_path, smtp_concurrency=1, claim_batch=10)
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(20)
    order = smtp_sink.recipients()
    assert order.index("urgent@example.org") < 5
    row = await support_mailings.get_delivery(pool, confirm_id)
    assert row is not None
    assert row["status"] == "sent"


async def test_temporary_failure_is_deferred_then_retried(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    smtp_sink.handler.data_replies.extend(["451 4.3.0 mailbox busy, try later"])
    settings = engine_settings(tmp_path, smtp_concurrency=1, retry_base_seconds=0.5)
    async with running_worker(pool, db_url, smtp_sink, settings):
        delivery_id = await enqueue_notice(pool, None, "later@example.org")

        async def deferred() -> bool:
            row = await support_mailings.get_delivery(pool, delivery_id)
            return row is not None and row["status"] == "deferred"

        await wait_until(deferred)
        row = await support_mailings.get_delivery(pool, delivery_id)
        assert row is not None
        assert row["last_reply"] == "451 4.3.0 mailbox busy, try later"
        assert row["next_attempt_at"] > row["created_at"]
        await smtp_sink.wait_for(1)
    row = await support_mailings.get_delivery(pool, delivery_id)
    assert row is not None
    assert (row["status"], row["attempts"]) == ("sent", 2)


async def test_temporary_failures_give_up_after_the_maximum_age(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    smtp_sink.handler.data_replies.extend(["451 4.3.0 try later"] * 50)
    settings = engine_settings(tmp_path, smtp_concurrency=1, retry_base_seconds=0.1)
    settings = type(settings)(**{**settings.__dict__, "retry_max_age_seconds": 0.5})
    async with running_worker(pool, db_url, smtp_sink, settings):
        delivery_id = await enqueue_notice(pool, None, "never@example.org")

        async def failed() -> bool:
            row = await support_mailings.get_delivery(pool, delivery_id)
            return row is not None and row["status"] == "failed"

        await wait_until(failed)
    row = await support_mailings.get_delivery(pool, delivery_id)
    assert row is not None
    assert row["last_reply"].startswith("gave up after")
    assert "451 4.3.0 try later" in row["last_reply"]


async def test_hard_bounce_fails_and_suppresses_the_address(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    ids = await add_subscribers(pool, 3)
    smtp_sink.handler.rcpt_replies["reader1@example.org"] = "550 5.1.1 no such user here"
    smtp_sink.handler.rcpt_replies["reader2@example.org"] = "550 5.7.1 blocked by policy"
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    async with running_worker(pool, db_url, smtp_sink, engine_settings(tmp_path)):

        async def done() -> bool:
            return (await mailings.progress(pool, mailing_id)).status == "sent"

        await wait_until(done)
    assert smtp_sink.recipients() == ["reader0@example.org"]
    rows = await pool.fetch(
        "SELECT subscriber_id, status, last_reply FROM deliveries ORDER BY subscriber_id"
    )
    assert [r["status"] for r in rows] == ["sent", "failed", "failed"]
    assert rows[1]["last_reply"] == "550 5.1.1 no such user here"
    subscribers = await pool.fetch("SELECT status FROM subscribers ORDER BY subscriber_id")
    assert [s["status"] for s in subscribers] == ["active", "suppressed", "active"]
    bounces = await pool.fetch("SELECT subscriber_id, kind FROM bounces ORDER BY subscriber_id")
    assert [(b["subscriber_id"], b["kind"]) for b in bounces] == [
        (ids[1], "hard"),
        (ids[2], "block"),
    ]
    suppression = await pool.fetchrow("SELECT reason FROM suppressions")
    assert suppression is not None
    assert suppression["reason"] == "hard_bounce"
    assert await pool.fetchval(
        "SELECT count(*) FROM suppressions WHERE email_hash = $1",
        address_hash("READER1@example.org"),
    )
    types = await pool.fetch("SELECT type FROM events WHERE subject = 'subscriber'")
    assert sorted(t["type"] for t in types) == [
        "delivery.bounced",
        "delivery.bounced",
        "subscriber.suppressed",
    ]


async def test_server_down_then_up_loses_nothing(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path
) -> None:
    from tests.support.smtp_sink import start_sink

    sink = await start_sink()
    port = sink.port
    await sink.close()  # nothing listens: connection refused
    await add_subscribers(pool, 20)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    settings = engine_settings(tmp_path, retry_base_seconds=0.3, retry_max_delay_seconds=0.6)
    down = type(sink)(host=sink.host, port=port, handler=sink.handler, server=sink.server)
    async with running_worker(pool, db_url, down, settings):

        async def some_deferred() -> bool:
            return (await statuses(pool, mailing_id)).get("deferred", 0) > 0

        await wait_until(some_deferred)
        row = await pool.fetchrow("SELECT last_reply FROM deliveries WHERE status = 'deferred'")
        assert row is not None
        assert "cannot connect" in row["last_reply"]
        # The server comes back on the same port.
        from aiosmtpd.smtp import SMTP

        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(sink.handler), host=sink.host, port=port)
        try:

            async def all_sent() -> bool:
                return (await statuses(pool, mailing_id)) == {"sent": 20}

            await wait_until(all_sent, timeout=30)
        finally:
            server.close()
    assert sorted(Counter(sink.recipients()).values()) == [1] * 20


async def test_connection_dropped_mid_data_is_retried(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    smtp_sink.handler.drops = 2
    await add_subscribers(pool, 5)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    settings = engine_settings(tmp_path, smtp_concurrency=2, retry_base_seconds=0.2)
    async with running_worker(pool, db_url, smtp_sink, settings):

        async def all_sent() -> bool:
            return (await statuses(pool, mailing_id)) == {"sent": 5}

        await wait_until(all_sent, timeout=20)
    assert sorted(smtp_sink.recipients()) == [f"reader{i}@example.org" for i in range(5)]
    retried = await pool.fetchval("SELECT count(*) FROM deliveries WHERE attempts = 2")
    assert retried == 2


async def test_pause_resume_and_cancel(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    await add_subscribers(pool, 300)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    smtp_sink.handler.delay = 0.01
    settings = engine_settings(tmp_path, smtp_concurrency=2, claim_batch=5)
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(10)
        await mailings.pause(pool, mailing_id)
        await asyncio.sleep(0.5)  # rows already claimed finish
        paused_count = len(smtp_sink.received)
        await asyncio.sleep(0.5)
        assert len(smtp_sink.received) == paused_count  # nothing more while paused
        assert (await mailings.progress(pool, mailing_id)).status == "paused"
        await mailings.resume(pool, mailing_id)
        await smtp_sink.wait_for(paused_count + 10)
        cancelled = await mailings.cancel(pool, mailing_id)
        assert cancelled > 0
        await asyncio.sleep(0.5)
    counts = await statuses(pool, mailing_id)
    assert counts["cancelled"] == cancelled
    assert counts["sent"] == len(smtp_sink.received)
    assert counts.get("sending", 0) == 0
    assert counts["sent"] + counts["cancelled"] == 300


async def test_expired_lease_returns_rows_to_the_queue(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    await add_subscribers(pool, 8)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    # A worker that claims and then dies: its rows are held until the lease runs out.
    claimed, _ = await deliveries.claim_deliveries(
        pool, limit=5, lease_seconds=0.5, worker="dead-worker"
    )
    assert len(claimed) == 5
    assert (await statuses(pool, mailing_id)) == {"sending": 5, "queued": 3}
    await asyncio.sleep(0.6)
    assert await deliveries.expire_leases(pool) == 5
    async with running_worker(pool, db_url, smtp_sink, engine_settings(tmp_path)):

        async def all_sent() -> bool:
            return (await statuses(pool, mailing_id)) == {"sent": 8}

        await wait_until(all_sent)
    assert len(smtp_sink.received) == 8


class BrokenLedger(Ledger):
    """Outcomes that cannot be written while `broken` holds, failing the ways asyncpg can
    (its InternalClientError for a connection caught mid-failure, and anything else)."""

    broken = True
    failures = 0

    async def flush(self, pool: asyncpg.Pool) -> int:
        if BrokenLedger.broken and len(self):
            BrokenLedger.failures += 1
            if BrokenLedger.failures % 2:
                raise asyncpg.InternalClientError("another operation is in progress")
            raise RuntimeError("something nobody expected")
        return await super().flush(pool)


async def test_outcomes_that_cannot_be_recorded_hold_claiming_and_are_kept(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    BrokenLedger.broken, BrokenLedger.failures = True, 0
    total = 300
    await add_subscribers(pool, total)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    settings = engine_settings(tmp_path, smtp_concurrency=2, claim_batch=20)
    async with running_worker(pool, db_url, smtp_sink, settings) as worker:
        worker.ledger.__class__ = BrokenLedger

        async def failed_both_ways() -> bool:
            return BrokenLedger.failures >= 4

        await wait_until(failed_both_ways)
        await asyncio.sleep(0.5)
        # Nothing is recorded, so nothing more is claimed once the hold is full: a crash
        # now would resend at most 2 x batch, not the whole list.
        assert worker.capacity == 2 * settings.claim_batch
        assert len(smtp_sink.received) <= worker.capacity
        assert (await statuses(pool, mailing_id)).get("sent", 0) == 0
        BrokenLedger.broken = False

        async def all_sent() -> bool:
            return (await statuses(pool, mailing_id)) == {"sent": total}

        await wait_until(all_sent, timeout=30)
    assert sorted(Counter(smtp_sink.recipients()).values()) == [1] * total


async def test_a_worker_whose_task_dies_stops_and_says_which(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    async def broken_housekeeping() -> None:
        raise ValueError("a bug in housekeeping")

    async def run_until_it_stops() -> None:
        async with running_worker(pool, db_url, smtp_sink, engine_settings(tmp_path)) as worker:
            worker._housekeeping = broken_housekeeping  # type: ignore[method-assign]

            async def stopped_itself() -> bool:
                return worker.stopping.is_set()

            await wait_until(stopped_itself)

    with pytest.raises(RuntimeError, match="housekeeping failed") as raised:
        await run_until_it_stops()
    assert isinstance(raised.value.__cause__, ValueError)


async def test_graceful_stop_finishes_in_flight_and_releases_the_rest(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    await add_subscribers(pool, 200)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    smtp_sink.handler.delay = 0.2  # every SMTP transaction takes a while
    settings = engine_settings(tmp_path, smtp_concurrency=4, claim_batch=40)
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(4)
        await asyncio.sleep(0.1)  # some transactions are now mid-DATA
    counts = await statuses(pool, mailing_id)
    assert counts.get("sending", 0) == 0  # nothing left claimed
    assert counts["sent"] == len(smtp_sink.received)  # every accepted mail is recorded
    assert counts["sent"] + counts["queued"] == 200
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE status = 'queued' AND attempts > 0"
        )
        == 0
    )  # released rows did not use up an attempt


async def test_send_rate_is_limited_across_the_queue(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    await add_subscribers(pool, 30)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    settings = engine_settings(tmp_path, send_rate=20.0)
    started = time.monotonic()
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(30, timeout=20)
        elapsed = time.monotonic() - started
    # 30 mails at 20/s with at most one second of burst: at least ~0.5 s, and not forever.
    assert 0.45 <= elapsed < 5, elapsed
    times = await pool.fetch("SELECT sent_at FROM deliveries ORDER BY sent_at")
    first, last = times[0]["sent_at"], times[-1]["sent_at"]
    assert (last - first).total_seconds() >= 0.45


async def test_template_error_parks_the_delivery_with_the_reason(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        delivery_id = await deliveries.enqueue_transactional(
            conn, kind="broken", recipient="x@example.org", subscriber_id=None
        )
    async with running_worker(pool, db_url, smtp_sink, engine_settings(tmp_path)):

        async def failed() -> bool:
            row = await support_mailings.get_delivery(pool, delivery_id)
            return row is not None and row["status"] == "failed"

        await wait_until(failed)
        # The worker keeps going with other rows.
        await enqueue_notice(pool, None, "fine@example.org")
        await smtp_sink.wait_for(1)
    row = await support_mailings.get_delivery(pool, delivery_id)
    assert row is not None
    assert "broken/body.txt" in row["last_reply"]


async def test_metrics_count_outcomes(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    from prometheus_client.exposition import generate_latest

    smtp_sink.handler.rcpt_replies["gone@example.org"] = "550 5.1.1 no such user"
    async with running_worker(pool, db_url, smtp_sink, engine_settings(tmp_path)) as worker:
        await enqueue_notice(pool, None, "one@example.org")
        await enqueue_notice(pool, None, "gone@example.org")
        await smtp_sink.wait_for(1)
        await wait_until(lambda: _failed(pool))
        await asyncio.sleep(0.1)
        text = generate_latest(worker.metrics.registry).decode()
    assert 'mailer_deliveries_total{outcome="sent"} 1.0' in text
    assert 'mailer_deliveries_total{outcome="failed"} 1.0' in text
    assert "mailer_smtp_send_seconds_count 1.0" in text
    assert 'mailer_smtp_replies_total{reply_class="2xx"} 1.0' in text
    assert 'mailer_smtp_replies_total{reply_class="5xx"} 1.0' in text
    assert 'mailer_smtp_replies_total{reply_class="4xx"} 0.0' in text


async def _failed(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'failed'"))
