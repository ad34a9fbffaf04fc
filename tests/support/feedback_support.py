"""Shared setup for the bounce, complaint and webhook tests: mails really sent through the
delivery engine (so every VERP envelope and personal link is the real thing)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg

from mailer.config import Settings
from mailer.feedback.receiver import BounceReceiver
from tests.support import mailings as support_mailings
from tests.support.factories import (
    add_subscribers,
    digest_mailing,
    engine_settings,
    running_worker,
    statuses,
    wait_until,
)
from tests.support.smtp_sink import Received, SmtpSink


def feedback_settings(tmp_path: Path, **bounces: Any) -> Settings:
    settings = engine_settings(tmp_path)
    return replace(settings, bounces=replace(settings.bounces, **bounces))


@dataclass
class Sent:
    mailing_id: int
    subscriber_ids: list[int]
    mails: dict[str, Received]  # by recipient

    def envelope(self, address: str) -> str:
        return self.mails[address].mail_from

    def unsubscribe_url(self, address: str) -> str:
        header = str(self.mails[address].message["List-Unsubscribe"])
        return header.split(",")[0].strip().strip("<>")  # the https one, not the mailto:

    def message_id(self, address: str) -> str:
        return str(self.mails[address].message["Message-ID"])


async def send_digest(
    pool: asyncpg.Pool, db_url: str, sink: SmtpSink, settings: Settings, count: int, **kw: Any
) -> Sent:
    """`count` active subscribers get one digest through the real engine."""
    ids = await add_subscribers(pool, count, **kw)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    async with running_worker(pool, db_url, sink, settings):

        async def done() -> bool:
            return (await statuses(pool, mailing_id)).get("sent", 0) == count

        await wait_until(done, timeout=30)
    mails = {m.rcpt_tos[0]: m for m in sink.received}
    return Sent(mailing_id, ids, mails)


async def send_report(
    receiver: BounceReceiver | tuple[str, int], rcpt: str, raw: bytes, sender: str = ""
) -> None:
    """Hand a report to the receiver over SMTP, as a remote MTA would."""
    host, port = receiver if isinstance(receiver, tuple) else (receiver.host, receiver.port)
    async with aiosmtplib.SMTP(hostname=host, port=port, timeout=10) as client:
        await client.sendmail(sender, [rcpt], raw)


async def subscriber_status(pool: asyncpg.Pool, subscriber_id: int) -> str:
    status: str = await pool.fetchval(
        "SELECT status FROM subscribers WHERE subscriber_id = $1", subscriber_id
    )
    return status


async def suppressed_reasons(pool: asyncpg.Pool) -> list[str]:
    return [r["reason"] for r in await pool.fetch("SELECT reason FROM suppressions ORDER BY 1")]


async def event_types(pool: asyncpg.Pool, subject_id: int) -> list[str]:
    rows = await pool.fetch(
        "SELECT type FROM events WHERE subject = 'subscriber' AND subject_id = $1 "
        "ORDER BY event_id",
        subject_id,
    )
    return [r["type"] for r in rows]


async def fetch_one(pool: asyncpg.Pool, sql: str, *args: Any) -> asyncpg.Record:
    row = await pool.fetchrow(sql, *args)
    assert row is not None, sql
    return row
