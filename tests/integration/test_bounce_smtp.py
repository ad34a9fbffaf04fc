"""DSNs and ARF complaint reports sent over SMTP to the bounce receiver: real messages in
the RFC formats, mapped through the signed VERP envelope (or the original's signed
headers), refused when forged, kept when unreadable."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import asyncpg
import pytest

from mailer.config import Settings
from mailer.feedback.receiver import BounceReceiver, start_receiver
from mailer.tokens import Signer
from tests.support.feedback_messages import arf, dsn, original_message
from tests.support.feedback_support import (
    Sent,
    event_types,
    feedback_settings,
    fetch_one,
    send_digest,
    send_report,
    subscriber_status,
    suppressed_reasons,
)
from tests.support.smtp_sink import SmtpSink

A, B, C = "reader0@example.org", "reader1@example.org", "reader2@example.org"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return feedback_settings(tmp_path)


@pytest.fixture
async def receiver(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[BounceReceiver]:
    server = await start_receiver(pool, settings, Signer(settings.secret_key), port=0)
    yield server
    await server.close()


@pytest.fixture
async def sent(pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, settings: Settings) -> Sent:
    return await send_digest(pool, db_url, smtp_sink, settings, 3)


async def reports(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM bounce_reports ORDER BY report_id")


async def test_hard_bounce_dsn_suppresses_the_address(
    pool: asyncpg.Pool, sent: Sent, receiver: BounceReceiver
) -> None:
    verp = sent.envelope(A)
    assert verp.startswith("bounces+") and verp.endswith("@health.example.org")
    await send_report(receiver, verp, dsn(to=verp, recipient=A, status="5.1.1"))

    [report] = await reports(pool)
    assert (report["kind"], report["status"], report["source"]) == ("dsn", "processed", "smtp")
    assert report["subscriber_id"] == sent.subscriber_ids[0]
    assert report["summary"]["status"] == "5.1.1"
    assert b"Undelivered Mail Returned to Sender" in report["raw"]
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "suppressed"
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "active"
    assert await suppressed_reasons(pool) == ["hard_bounce"]
    bounce = await fetch_one(pool, "SELECT * FROM bounces")
    assert (bounce["kind"], bounce["source"], bounce["mailing_id"]) == (
        "hard",
        "dsn",
        sent.mailing_id,
    )
    assert await event_types(pool, sent.subscriber_ids[0]) == [
        "delivery.bounced",
        "subscriber.suppressed",
    ]


async def test_soft_and_policy_dsns_do_not_suppress_at_once(
    pool: asyncpg.Pool, sent: Sent, receiver: BounceReceiver
) -> None:
    await send_report(
        receiver,
        sent.envelope(A),
        dsn(to=sent.envelope(A), recipient=A, status="5.2.2",
            diagnostic="smtp; 552 5.2.2 Mailbox full"),
    )  # fmt: skip
    await send_report(
        receiver,
        sent.envelope(B),
        dsn(to=sent.envelope(B), recipient=B, status="5.7.1",
            diagnostic="smtp; 550 5.7.1 Message rejected as spam by Content Filtering"),
    )  # fmt: skip
    await send_report(
        receiver,
        sent.envelope(C),
        dsn(to=sent.envelope(C), recipient=C, status="4.4.1", action="delayed",
            diagnostic="smtp; 451 4.4.1 connection timed out"),
    )  # fmt: skip
    kinds = [r["kind"] for r in await pool.fetch("SELECT kind FROM bounces ORDER BY bounce_id")]
    assert kinds == ["soft", "block"]
    statuses = [r["status"] for r in await reports(pool)]
    assert statuses == ["processed", "processed", "ignored"]  # a delay is no bounce
    for subscriber_id in sent.subscriber_ids:
        assert await subscriber_status(pool, subscriber_id) == "active"
    assert await suppressed_reasons(pool) == []


async def test_arf_complaint_unsubscribes_and_suppresses(
    pool: asyncpg.Pool, sent: Sent, receiver: BounceReceiver
) -> None:
    original = original_message(
        to=A,
        message_id=sent.message_id(A),
        return_path=sent.envelope(A),
        unsubscribe_url=sent.unsubscribe_url(A),
    )
    # Sent to the VERP address (feedback loops that answer the Return-Path).
    await send_report(
        receiver, sent.envelope(A), arf(to=sent.envelope(A), original=original, rcpt=A)
    )
    subscriber_id = sent.subscriber_ids[0]
    [report] = await reports(pool)
    assert (report["kind"], report["status"]) == ("arf", "processed")
    assert report["summary"]["feedback_type"] == "abuse"
    assert await subscriber_status(pool, subscriber_id) == "suppressed"
    assert await suppressed_reasons(pool) == ["complaint"]
    assert await event_types(pool, subscriber_id) == [
        "delivery.complained",
        "subscriber.unsubscribed",
        "subscriber.suppressed",
    ]
    consent = await fetch_one(
        pool,
        "SELECT action, source, detail FROM consent_events WHERE subscriber_id = $1",
        subscriber_id,
    )
    assert consent["action"] == "unsubscribe"
    assert consent["source"] == "complaint via arf"


async def test_arf_to_the_feedback_address_is_matched_by_signed_headers_only(
    pool: asyncpg.Pool, sent: Sent, receiver: BounceReceiver
) -> None:
    fbl = "fbl@health.example.org"
    # 1. The original's Return-Path is our signed VERP address: matched.
    with_return_path = original_message(
        to=A, message_id=sent.message_id(A), return_path=sent.envelope(A)
    )
    await send_report(receiver, fbl, arf(to=fbl, original=with_return_path))
    # 2. Only the signed unsubscribe link (a provider that strips Return-Path): matched.
    with_link = original_message(
        to=B, message_id=sent.message_id(B), unsubscribe_url=sent.unsubscribe_url(B)
    )
    await send_report(receiver, fbl, arf(to=fbl, original=with_link, rcpt=B))
    # 3. A forged complaint naming C by Message-ID and address alone: not trusted.
    forged = original_message(to=C, message_id=sent.message_id(C))
    await send_report(receiver, fbl, arf(to=fbl, original=forged, rcpt=C))
    # 4. A forged unsubscribe link (bad signature): not trusted either.
    tampered = original_message(
        to=C,
        message_id=sent.message_id(C),
        unsubscribe_url=sent.unsubscribe_url(A)[:-4] + "AAAA",
        return_path=sent.envelope(C).replace("-", "-x", 1),
    )
    await send_report(receiver, fbl, arf(to=fbl, original=tampered, rcpt=C))

    rows = await reports(pool)
    assert [r["status"] for r in rows] == ["processed", "processed", "unmatched", "unmatched"]
    assert rows[0]["summary"]["matched_by"] == "original Return-Path"
    assert rows[1]["summary"]["matched_by"] == "signed unsubscribe link"
    assert "not trusted" in rows[2]["problem"]
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "suppressed"
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "suppressed"
    assert await subscriber_status(pool, sent.subscriber_ids[2]) == "active"


async def test_forged_or_unknown_recipients_are_refused_at_rcpt(
    pool: asyncpg.Pool, sent: Sent, receiver: BounceReceiver
) -> None:
    real = sent.envelope(A)
    delivery_id = real.split("+")[1].split("-")[0]
    forged = f"bounces+{delivery_id}-aaaaaaaa@health.example.org"
    for rcpt, code in ((forged, 550), ("someone@health.example.org", 550)):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send_report(receiver, rcpt, dsn(to=rcpt, recipient=A))
        assert refused.value.recipients[0].code == code
    rows = await reports(pool)
    assert [r["status"] for r in rows] == ["refused", "refused"]
    assert "bad VERP signature" in rows[0]["problem"]
    assert await suppressed_reasons(pool) == []
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "active"


async def test_a_signed_address_of_a_delivery_that_does_not_exist_is_kept_unmatched(
    pool: asyncpg.Pool, settings: Settings, receiver: BounceReceiver
) -> None:
    verp = Signer(settings.secret_key).bounce_address("bounces", "health.example.org", 987654)
    await send_report(receiver, verp, dsn(to=verp, recipient=A))
    [report] = await reports(pool)
    assert report["status"] == "unmatched"
    assert "987654 does not exist" in report["problem"]
    assert await suppressed_reasons(pool) == []


CORPUS = Path(__file__).parent.parent / "fixtures" / "bounces"


def _corpus(name: str, verp: str, address: str) -> bytes:
    """A corpus message re-addressed to this delivery's VERP address and recipient."""
    text = (CORPUS / name).read_text()
    old_verp = re.search(r"bounces\+[0-9]+-[a-z0-9]+@health\.example\.org", text)
    assert old_verp is not None
    expected = {line.split("\t")[0]: line.split("\t")[1]
                for line in (CORPUS / "expected.tsv").read_text().splitlines()}  # fmt: skip
    return text.replace(old_verp.group(0), verp).replace(expected[name], address).encode()


async def test_any_mta_bounce_to_a_signed_address_acts_as_the_policy_says(
    pool: asyncpg.Pool, sent: Sent, receiver: BounceReceiver
) -> None:
    """qmail (hard: suppressed), Exim quota (soft: counted), a vacation reply (no change),
    and a notice nobody recognises (counted as soft): each changes what the policy says."""
    await send_report(
        receiver, sent.envelope(A), _corpus("qmail_no_mailbox.eml", sent.envelope(A), A)
    )
    await send_report(
        receiver, sent.envelope(B), _corpus("exim_plain_quota.eml", sent.envelope(B), B)
    )
    await send_report(
        receiver, sent.envelope(C), _corpus("autoreply_outlook_ooo.eml", sent.envelope(C), C)
    )
    await send_report(
        receiver, sent.envelope(C), _corpus("exim_delay_warning.eml", sent.envelope(C), C)
    )
    odd = (
        b"From: MAILER-DAEMON@odd.example.net\r\nSubject: about your mail\r\n\r\n"
        b"We could not hand your mail over today.\r\n"
    )
    await send_report(receiver, sent.envelope(C), odd)
    rows = await reports(pool)
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("text", "processed"),
        ("text", "processed"),
        ("autoreply", "ignored"),
        ("text", "ignored"),
        ("text", "processed"),
    ]
    assert [r["summary"]["category"] for r in rows] == [
        "failed", "failed", "autoreply", "delayed", "unrecognised"
    ]  # fmt: skip
    assert "auto-reply" in rows[2]["problem"] and b"Automatic reply" in rows[2]["raw"]
    assert rows[0]["summary"]["matched_by"] == "envelope address"
    assert rows[0]["summary"]["failed"] == [A]
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "suppressed"
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "active"
    assert await subscriber_status(pool, sent.subscriber_ids[2]) == "active"
    bounces = await pool.fetch("SELECT subscriber_id, kind, source FROM bounces ORDER BY 1")
    assert [(b["subscriber_id"], b["kind"], b["source"]) for b in bounces] == [
        (sent.subscriber_ids[0], "hard", "text"),
        (sent.subscriber_ids[1], "soft", "text"),
        (sent.subscriber_ids[2], "soft", "text"),
    ]
    assert await suppressed_reasons(pool) == ["hard_bounce"]


async def test_soft_bounces_of_one_mail_in_several_formats_count_once(
    pool: asyncpg.Pool, sent: Sent, receiver: BounceReceiver, settings: Settings
) -> None:
    verp = sent.envelope(B)
    for name in ("exim_plain_quota.eml", "qmail_over_quota.eml", "postfix_mailbox_full.eml"):
        await send_report(receiver, verp, _corpus(name, verp, B))
    assert settings.bounces.soft_limit == 3
    kinds = await pool.fetch("SELECT kind, source FROM bounces ORDER BY bounce_id")
    assert [(k["kind"], k["source"]) for k in kinds] == [("soft", "text"), ("soft", "text"),
                                                         ("soft", "dsn")]  # fmt: skip
    # Three reports of the same mail are one soft bounce for the policy (distinct mails).
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "active"
    assert await suppressed_reasons(pool) == []


async def test_unreadable_reports_are_kept_for_an_editor(
    pool: asyncpg.Pool, sent: Sent, receiver: BounceReceiver
) -> None:
    verp = sent.envelope(A)
    await send_report(receiver, verp, b"\r\n")
    [row] = await reports(pool)
    assert row["status"] == "unparseable"
    assert "empty" in row["problem"]
    assert await pool.fetchval("SELECT count(*) FROM bounces") == 0
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "active"


async def test_serve_role_bounces_runs_the_receiver(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path, settings: Settings
) -> None:
    """`mailer serve --role bounces` as an operator runs it: probes on MAILER_LISTEN, the
    receiver on MAILER_BOUNCE_LISTEN, reports stored in the shared database."""
    import asyncio

    from tests.support.process import Service, free_port, mailer_env

    port, smtp_port = free_port(), free_port()
    env = mailer_env(
        tmp_path,
        MAILER_DATABASE_URL=db_url,
        MAILER_SECRET_KEY=settings.secret_key,
        MAILER_FROM=settings.from_address,
        MAILER_LISTEN=f"127.0.0.1:{port}",
        MAILER_BOUNCE_LISTEN=f"127.0.0.1:{smtp_port}",
    )
    service = Service.start(env, port, role="bounces")
    try:
        await asyncio.to_thread(service.wait_ready)
        verp = Signer(settings.secret_key).bounce_address("bounces", "health.example.org", 5)
        await send_report(("127.0.0.1", smtp_port), verp, dsn(to=verp, recipient=A))
        [report] = await reports(pool)
        assert (report["status"], report["envelope_to"]) == ("unmatched", verp)
    finally:
        await asyncio.to_thread(service.stop)
    assert "bounce receiver (SMTP) on 127.0.0.1" in service.output()


async def test_mailto_unsubscribe_of_a_digest_unsubscribes_its_reader(
    pool: asyncpg.Pool, sent: Sent, receiver: BounceReceiver
) -> None:
    header = str(sent.mails[A].message["List-Unsubscribe"])
    mailto = header.split(",")[1].strip().strip("<>")
    address = mailto.removeprefix("mailto:").split("?")[0]
    assert address.startswith("unsubscribe+") and address.endswith("@health.example.org")
    # A forged address (another signature) is refused at RCPT, and changes nothing.
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await send_report(
            receiver, address.replace("-", "-x", 1), b"Subject: unsubscribe\r\n\r\nx\r\n", A
        )
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "active"
    await send_report(receiver, address, b"Subject: unsubscribe\r\n\r\nplease\r\n", A)
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "unsubscribed"
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "active"
    consent = await fetch_one(
        pool, "SELECT action, source FROM consent_events WHERE subscriber_id = $1 "
        "ORDER BY 1 DESC LIMIT 1", sent.subscriber_ids[0],
    )  # fmt: skip
    assert (consent["action"], consent["source"]) == ("unsubscribe", "mailto unsubscribe")
    # The refusal is recorded for editors; the unsubscribe itself is not a bounce report.
    assert [r["status"] for r in await reports(pool)] == ["refused"]
