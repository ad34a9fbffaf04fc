"""Signups written in batches, and the coalesced wake-up of the delivery workers."""

import asyncio
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from mailer.addresses import address_key
from mailer.audience.signup import SignupOutcome, sign_up, signup_row
from mailer.audience.signup_batch import SignupWriter
from mailer.audience.signup_input import SignupRequest
from mailer.audience.topics import create_topic
from mailer.db import load_queries
from mailer.delivery import sender
from mailer.delivery.wakeup import DeliveryWaker
from mailer.id_blocks import IdBlock
from mailer.tokens import Signer
from tests.support.factories import SECRET, engine_settings, running_worker, wait_until
from tests.support.smtp_sink import SmtpSink

CONSENT = "Yes, send me the newsroom's news."


@pytest.fixture
async def topic(pool: asyncpg.Pool) -> None:
    await create_topic(pool, name="Overdose Prevention")


def request(email: str, **changes: object) -> SignupRequest:
    base = SignupRequest(
        email=email,
        name="Reader",
        topics=("overdose-prevention",),
        source="https://news.example.org/join",
        consent_text=CONSENT,
        ip="203.0.113.9",
        user_agent="test",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def writer_for(pool: asyncpg.Pool, waker: DeliveryWaker | None = None) -> SignupWriter:
    return SignupWriter(pool, confirm_ttl_seconds=3600, waker=waker)


async def test_signups_arriving_together_share_transactions(
    pool: asyncpg.Pool, topic: None
) -> None:
    writer = writer_for(pool)
    signer = Signer(SECRET)
    outcomes = await asyncio.gather(
        *(sign_up(writer, signer, request(f"reader{i}@example.org")) for i in range(40))
    )
    await writer.close()
    assert set(outcomes) == {SignupOutcome.CONFIRM}
    # Rows written by one transaction share its id: 40 signups, a handful of commits.
    transactions = await pool.fetchval("SELECT count(DISTINCT xmin::text) FROM subscribers")
    assert 1 <= transactions <= 6
    counts = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM subscribers) AS subscribers,"
        " (SELECT count(*) FROM subscriber_topics) AS topics,"
        " (SELECT count(*) FROM consent_events WHERE action = 'signup') AS ledger,"
        " (SELECT count(*) FROM events WHERE type = 'subscriber.pending') AS events,"
        " (SELECT count(*) FROM confirmations) AS confirmations,"
        " (SELECT count(*) FROM deliveries WHERE kind = 'confirm') AS mails,"
        " (SELECT count(*) FROM consent_texts) AS texts"
    )
    assert counts is not None
    assert dict(counts) == {
        "subscribers": 40,
        "topics": 40,
        "ledger": 40,
        "events": 40,
        "confirmations": 40,
        "mails": 40,
        "texts": 1,
    }
    # Each mail is the one for its own address and its own confirmation.
    mismatched = await pool.fetchval(
        "SELECT count(*) FROM deliveries d JOIN subscribers s USING (subscriber_id)"
        " JOIN confirmations c ON c.confirmation_id = (d.payload->>'confirmation_id')::bigint"
        " WHERE d.recipient <> s.email OR c.subscriber_id <> s.subscriber_id"
    )
    assert mismatched == 0


async def test_one_address_twice_in_a_burst_is_two_batches(pool: asyncpg.Pool, topic: None) -> None:
    writer = writer_for(pool)
    signer = Signer(SECRET)
    emails = ["a@example.org", "b@example.org", "A@example.org", "c@example.org", "B@EXAMPLE.org"]
    outcomes = await asyncio.gather(*(sign_up(writer, signer, request(e)) for e in emails))
    await writer.close()
    assert sorted(outcomes) == sorted(["confirm"] * 3 + ["throttled"] * 2)
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 3
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 3
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 5


async def test_a_signup_the_database_refuses_fails_alone(pool: asyncpg.Pool, topic: None) -> None:
    writer = writer_for(pool)
    signer = Signer(SECRET)
    ids = [await writer.confirmation_ids.take(pool) for _ in range(6)]
    rows = [
        signup_row(signer, request(f"r{i}@example.org"), ids[i], allow_hidden=False)
        for i in range(6)
    ]
    rows[3] = (None, *rows[3][1:])  # no address: subscribers.email is NOT NULL
    results = await asyncio.gather(
        *(writer.write(str(row[1]), row) for row in rows), return_exceptions=True
    )
    await writer.close()
    assert isinstance(results[3], asyncpg.NotNullViolationError)
    assert [r for i, r in enumerate(results) if i != 3] == [("confirm", None)] * 5
    emails = await pool.fetch("SELECT email FROM subscribers ORDER BY email")
    assert [e["email"] for e in emails] == [f"r{i}@example.org" for i in (0, 1, 2, 4, 5)]
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 5


async def test_unknown_topics_write_nothing_for_that_signup_only(
    pool: asyncpg.Pool, topic: None
) -> None:
    writer = writer_for(pool)
    signer = Signer(SECRET)
    good, bad = await asyncio.gather(
        sign_up(writer, signer, request("good@example.org")),
        sign_up(writer, signer, request("bad@example.org", topics=("nope", "overdose-prevention"))),
        return_exceptions=True,
    )
    await writer.close()
    assert good == SignupOutcome.CONFIRM
    assert "unknown topics: nope" in str(getattr(bad, "fields", {}).get("topics"))
    emails = await pool.fetch("SELECT email FROM subscribers")
    assert [e["email"] for e in emails] == ["good@example.org"]
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 1


async def test_workers_are_woken_after_commit_coalesced_and_events_notify_nobody(
    pool: asyncpg.Pool, db_url: str, topic: None
) -> None:
    heard: dict[str, int] = {"mailer_deliveries": 0, "mailer_events": 0}
    listener = await asyncpg.connect(db_url)
    try:

        def hear(_conn: object, _pid: int, channel: str, _payload: object) -> None:
            heard[channel] += 1

        for channel in heard:
            await listener.add_listener(channel, hear)
        waker = DeliveryWaker(pool, interval=0.01)
        writer = writer_for(pool, waker)
        signer = Signer(SECRET)
        await asyncio.gather(
            *(sign_up(writer, signer, request(f"w{i}@example.org")) for i in range(30))
        )
        await writer.close()
        await waker.close()
        await wait_until(lambda: _at_least(heard, "mailer_deliveries", 1), timeout=5)
        await asyncio.sleep(0.2)  # anything else on its way
    finally:
        await listener.close()
    assert 1 <= heard["mailer_deliveries"] <= 5  # one per burst, not one per signup
    assert heard["mailer_events"] == 0  # the events_notify trigger is gone


async def _at_least(heard: dict[str, int], channel: str, count: int) -> bool:
    return heard[channel] >= count


async def test_a_confirmation_goes_out_at_once_not_at_the_next_poll(
    pool: asyncpg.Pool,
    db_url: str,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    topic: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender, "_POLL_INTERVAL", 60.0)  # only the wake-up can be in time
    settings = engine_settings(tmp_path)
    waker = DeliveryWaker(pool)
    writer = writer_for(pool, waker)
    async with running_worker(pool, db_url, smtp_sink, settings) as worker:
        await wait_until(lambda: _is_set(worker.idle), timeout=10)
        await asyncio.sleep(0.2)  # the claimer is waiting for a wake-up now
        await sign_up(writer, Signer(SECRET), request("soon@example.org"))
        (mail,) = await smtp_sink.wait_for(1, timeout=10)
    await writer.close()
    await waker.close()
    assert mail.message["To"] == "Reader <soon@example.org>"


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()


async def test_id_blocks_hand_out_distinct_ids_with_one_round_trip_per_block(
    pool: asyncpg.Pool,
) -> None:
    block = IdBlock(load_queries("audience/signup")["next_confirmation_ids"], size=100)
    ids = await asyncio.gather(*(block.take(pool) for _ in range(250)))
    assert len(set(ids)) == 250
    drawn = await pool.fetchval("SELECT last_value FROM confirmations_confirmation_id_seq")
    assert drawn == 300  # three blocks of 100


def test_signup_rows_carry_the_normalised_key_and_a_fresh_nonce() -> None:
    signer = Signer(SECRET)
    first = signup_row(signer, request("Zoe@example.org"), 7, allow_hidden=True)
    second = signup_row(signer, request("Zoe@example.org"), 7, allow_hidden=True)
    assert first[1] == address_key("Zoe@example.org") == "zoe@example.org"
    assert first[7] is True
    assert first[13] != second[13]  # nonce
    assert first[14] != second[14]  # token hash


async def test_signing_up_again_without_alerts_turns_them_off_and_cancels_queued_ones(
    pool: asyncpg.Pool, topic: None
) -> None:
    writer = writer_for(pool)
    signer = Signer(SECRET)
    await sign_up(writer, signer, request("al@example.org", alerts=True))
    subscriber_id = await pool.fetchval("SELECT subscriber_id FROM subscribers")
    assert await pool.fetchval("SELECT accepts_alerts FROM subscribers") is True
    await pool.execute(
        "INSERT INTO mailings (mailing_id, kind, status, subject, list_id) "
        "VALUES (900, 'alert', 'sending', 'x', 'x')"
    )
    await pool.execute(
        "INSERT INTO deliveries (mailing_id, subscriber_id, kind, recipient) "
        "VALUES (900, $1, 'alert', 'al@example.org')",
        subscriber_id,
    )
    await sign_up(writer, signer, request("al@example.org", alerts=False))
    await writer.close()
    assert await pool.fetchval("SELECT accepts_alerts FROM subscribers") is False
    assert await pool.fetchval("SELECT status FROM deliveries WHERE kind = 'alert'") == "cancelled"
    details = await pool.fetch("SELECT detail FROM consent_events ORDER BY consent_event_id")
    assert [d["detail"] for d in details] == [{"alerts": True}, None]
