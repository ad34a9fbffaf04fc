"""The policy: soft bounces counted within a window, the automatic pause of a mailing whose
rates cross the thresholds (with the event), suppressions listed and lifted (API, CLI)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from mailer.accounts.api_keys import create_api_key
from mailer.audience.preferences import erase
from mailer.config import Settings
from mailer.delivery import mailings
from mailer.feedback.deliverability import Rates, ThresholdWatch
from mailer.feedback.receiver import start_receiver
from mailer.signatures import sign
from mailer.tokens import Signer
from mailer.web.app import create_app
from tests.support import mailings as support_mailings
from tests.support.factories import (
    add_subscribers,
    digest_mailing,
    running_worker,
    statuses,
    wait_until,
)
from tests.support.feedback_messages import dsn
from tests.support.feedback_support import (
    feedback_settings,
    fetch_one,
    send_digest,
    send_report,
    subscriber_status,
    suppressed_reasons,
)
from tests.support.helpers import ClientFactory
from tests.support.process import mailer_env, run_mailer
from tests.support.smtp_sink import SmtpSink

A = "reader0@example.org"


async def api_key(pool: asyncpg.Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "editor", "admin")
    return {"Authorization": f"Bearer {key}"}


async def test_soft_bounces_suppress_after_the_limit_within_the_window(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    settings = feedback_settings(tmp_path, soft_limit=3, soft_days=15)
    subscriber_id = (await add_subscribers(pool, 1))[0]
    envelopes = []
    for _ in range(4):  # four digests to the same reader, each soft-bouncing
        mailing_id = await digest_mailing(pool)
        await support_mailings.start_sending(pool, mailing_id)
        async with running_worker(pool, db_url, smtp_sink, settings):

            async def sent(mailing_id: int = mailing_id) -> bool:
                return (await statuses(pool, mailing_id)).get("sent", 0) == 1

            await wait_until(sent)
        envelopes.append(smtp_sink.received[-1].mail_from)
    receiver = await start_receiver(pool, settings, Signer(settings.secret_key), port=0)
    try:

        async def soft_bounce(verp: str) -> None:
            full = dsn(to=verp, recipient=A, status="5.2.2",
                       diagnostic="smtp; 552 5.2.2 Mailbox full")  # fmt: skip
            await send_report(receiver, verp, full)

        await soft_bounce(envelopes[0])
        await soft_bounce(envelopes[0])  # the same mail twice counts once
        await soft_bounce(envelopes[1])
        assert await subscriber_status(pool, subscriber_id) == "active"
        # An old soft bounce, outside the window, does not count toward the limit.
        await pool.execute("UPDATE bounces SET created_at = now() - interval '20 days'")
        await soft_bounce(envelopes[2])
        assert await subscriber_status(pool, subscriber_id) == "active"
        await soft_bounce(envelopes[3])
        await pool.execute(
            "UPDATE bounces SET created_at = now() WHERE delivery_id = "
            "(SELECT min(delivery_id) FROM deliveries)"
        )
        await soft_bounce(envelopes[3])  # now three distinct mails in the window
        assert await subscriber_status(pool, subscriber_id) == "suppressed"
        entry = await fetch_one(pool, "SELECT reason, detail, created_at FROM suppressions")
        assert entry["reason"] == "soft_bounce"
        assert entry["detail"] == "3 soft bounces within 15 days"
    finally:
        await receiver.close()


async def test_complaints_over_the_threshold_pause_the_mailing(
    pool: asyncpg.Pool,
    db_url: str,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = replace(
        feedback_settings(tmp_path, pause_min_sample=10, pause_complaint_percent=0.3),
        webhook_secrets=("website-webhook-secret-1",),
        retry_base_seconds=600.0,  # the deferred ones keep the mailing sending
    )
    await add_subscribers(pool, 24)
    for i in range(20, 24):
        smtp_sink.handler.rcpt_replies[f"reader{i}@example.org"] = "451 4.2.0 try later"
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    async with running_worker(pool, db_url, smtp_sink, settings):

        async def settled() -> bool:
            counts = await statuses(pool, mailing_id)
            return counts.get("sent", 0) == 20 and counts.get("deferred", 0) == 4

        await wait_until(settled)
    watch = ThresholdWatch(pool, settings.bounces)
    assert await watch.check() == []
    client = await aiohttp_client(create_app(settings, pool))
    body = b'{"type": "complaint", "email": "reader3@example.org"}'
    response = await client.post(
        "/webhooks/bounce",
        data=body,
        headers={"Content-Type": "application/json",
                 "Mailer-Signature": sign("website-webhook-secret-1", body)},
    )  # fmt: skip
    assert response.status == 200
    with caplog.at_level(logging.WARNING, logger="mailer.feedback.deliverability"):
        assert await watch.check() == [mailing_id]
    assert "paused automatically: complaint rate 5.00% (1 of 20)" in caplog.text
    progress = await mailings.progress(pool, mailing_id)
    assert progress.status.value == "paused"
    event = await fetch_one(
        pool,
        "SELECT type, payload FROM events WHERE subject = 'digest' AND subject_id = $1 "
        "AND type = 'digest.paused'",
        mailing_id,
    )
    assert event["payload"]["by"] == "deliverability"
    assert "above 0.3%" in event["payload"]["reason"]

    headers = await api_key(pool)
    stats = await (await client.get(f"/api/v1/digests/{mailing_id}/stats", headers=headers)).json()
    assert stats["deliverability"]["complaints"] == 1
    assert stats["deliverability"]["complaint_rate"] == 0.05
    overview = await (await client.get("/api/v1/deliverability", headers=headers)).json()
    assert overview["overall"]["complaints"] == 1
    assert overview["suppressions"] == {"complaint": 1}

    # The editor resumes: that overrules the automatic pause, which does not come back.
    assert (
        await client.post(f"/api/v1/mailings/{mailing_id}/resume", headers=headers)
    ).status == 200
    await pool.execute("UPDATE bounces SET detail = detail")  # nothing new
    response = await client.post(
        "/webhooks/bounce",
        data=(body2 := b'{"type": "complaint", "email": "reader4@example.org"}'),
        headers={"Content-Type": "application/json",
                 "Mailer-Signature": sign("website-webhook-secret-1", body2)},
    )  # fmt: skip
    assert await watch.check() == []
    assert (await mailings.progress(pool, mailing_id)).status.value == "sending"
    await mailings.cancel(pool, mailing_id)


def test_rates_need_the_minimum_sample_and_cross_either_threshold(tmp_path: Path) -> None:
    policy = feedback_settings(tmp_path, pause_min_sample=100).bounces

    def rates(attempted: int, bounced: int, complaints: int) -> Rates:
        return Rates(1, "digest", "s", "sending", attempted, attempted - bounced, bounced, 0, 0,
                     bounced, complaints)  # fmt: skip

    assert rates(99, 50, 0).breach(policy) is None  # too few to judge
    assert rates(100, 5, 0).breach(policy) is None  # 5 % is not above 5 %
    assert "bounce rate 6.00%" in (rates(100, 6, 0).breach(policy) or "")
    assert rates(1000, 0, 3).breach(policy) is None  # 0.3 % is not above 0.3 %
    assert "complaint rate" in (rates(1000, 0, 4).breach(policy) or "")


async def test_editors_list_and_lift_suppressions(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    aiohttp_client: ClientFactory,
) -> None:  # fmt: skip
    settings: Settings = feedback_settings(tmp_path)
    sent = await send_digest(pool, db_url, smtp_sink, settings, 3)
    receiver = await start_receiver(pool, settings, Signer(settings.secret_key), port=0)
    try:
        for address in ("reader0@example.org", "reader1@example.org"):
            verp = sent.envelope(address)
            await send_report(receiver, verp, dsn(to=verp, recipient=address))
    finally:
        await receiver.close()
    await erase(pool, sent.subscriber_ids[2], requested_by="test")
    client = await aiohttp_client(create_app(settings, pool))
    headers = await api_key(pool)

    listed = await (await client.get("/api/v1/suppressions", headers=headers)).json()
    by_reason = sorted((s["reason"], s["email"]) for s in listed["suppressions"])
    assert by_reason == [
        ("erased", None),
        ("hard_bounce", "reader0@example.org"),
        ("hard_bounce", "reader1@example.org"),
    ]
    page = await (await client.get("/api/v1/suppressions?limit=2", headers=headers)).json()
    rest = await (
        await client.get(f"/api/v1/suppressions?cursor={page['next_cursor']}", headers=headers)
    ).json()
    assert len(page["suppressions"]) + len(rest["suppressions"]) == 3

    lifted = await client.post(
        "/api/v1/suppressions/lift", json={"email": "READER0@example.org"}, headers=headers
    )
    assert lifted.status == 200
    assert (await lifted.json())["subscriber_status"] == "active"
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "active"
    again = await client.post(
        "/api/v1/suppressions/lift", json={"email": "reader0@example.org"}, headers=headers
    )
    assert again.status == 404
    erased = await client.post(
        "/api/v1/suppressions/lift", json={"email": "reader2@example.org"}, headers=headers
    )
    assert erased.status == 409
    bad = await client.get("/api/v1/suppressions?reason=nope", headers=headers)
    assert bad.status == 400

    # The CLI, as an operator runs it.
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_SECRET_KEY="x" * 40)
    listing = await asyncio.to_thread(run_mailer, ["suppressions", "list"], env)
    assert listing.returncode == 0, listing.stderr
    assert "hard_bounce" in listing.stdout and "reader1@example.org" in listing.stdout
    lift = await asyncio.to_thread(run_mailer, ["suppressions", "lift", "reader1@example.org"], env)
    assert lift.returncode == 0, lift.stderr
    assert "now active" in lift.stdout
    missing = await asyncio.to_thread(run_mailer, ["suppressions", "lift", "x@example.org"], env)
    assert missing.returncode == 1
    assert "not suppressed" in missing.stderr
    assert await suppressed_reasons(pool) == ["erased"]
    added = await asyncio.to_thread(
        run_mailer,
        ["suppressions", "add", "reader1@example.org", "--detail", "asked by phone"],
        env,
    )
    assert added.returncode == 0, added.stderr
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "suppressed"
    events = await pool.fetch(
        "SELECT type, payload FROM events WHERE subject_id = $1 AND subject = 'subscriber' "
        "ORDER BY event_id",
        sent.subscriber_ids[1],
    )
    assert [e["type"] for e in events][-3:] == [
        "subscriber.suppressed",
        "subscriber.updated",
        "subscriber.suppressed",
    ]
    assert events[-2]["payload"]["suppression_lifted"] == "hard_bounce"
