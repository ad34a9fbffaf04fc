"""Matching a bounce or complaint to its delivery and subscriber, and taking it in: every
report is stored (processed, ignored, unmatched or unparseable), and the policy applied in
the same transaction. Only signed evidence acts on anyone: the VERP envelope address, a
signed link of the original message, or a request signed by a trusted provider."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from mailer.addresses import address_key
from mailer.config import Settings
from mailer.db import Connection, load_queries
from mailer.feedback.parse import Original
from mailer.feedback.policy import apply_bounces
from mailer.models import Bounce
from mailer.tokens import InvalidToken, Purpose, Signer

Q = load_queries("feedback/feedback")
MAX_RAW = 256 * 1024  # what is kept of a report for a human to read
_MESSAGE_ID = re.compile(r"^<?(\d{1,18})\.([a-z0-9_]+)(?:\.[A-Za-z0-9_-]+)?@([^>\s]+)>?$")
_UNSUBSCRIBE = re.compile(r"/unsubscribe/([A-Za-z0-9_-]{20,64})>?")


@dataclass(frozen=True)
class Feedback:
    """One bounce or complaint from any door, before it is matched."""

    outcome: str | None  # hard, soft, block, complaint; None: nothing to act on
    kind: str  # dsn, arf, event
    source: str  # smtp, webhook:generic, webhook:mailgun, webhook:postmark
    detail: str
    recipient: str | None = None
    original: Original = field(default_factory=Original)
    delivery_id: int | None = None  # from a VERP address whose signature was checked
    trusted_recipient: bool = False  # a signed provider request: its address may be used
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Envelope:
    mail_from: str | None = None
    rcpt_to: str | None = None
    peer: str | None = None


@dataclass(frozen=True)
class Taken:
    report_id: int
    status: str  # processed, ignored, unmatched, unparseable
    delivery_id: int | None = None
    subscriber_id: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class _Match:
    delivery: asyncpg.Record | None = None
    subscriber_id: int | None = None
    recipient: str | None = None
    how: str = ""
    problem: str | None = None


class Intake:
    def __init__(self, settings: Settings, signer: Signer) -> None:
        self.settings = settings
        self.signer = signer
        self.from_domain = settings.from_address.rpartition("@")[2].rstrip(">").strip().lower()

    def verp_delivery(self, address: str | None) -> int | None:
        """The delivery a VERP address names, if it is ours and its signature holds."""
        if not address:
            return None
        local, _, domain = address.strip().strip("<>").rpartition("@")
        if domain.lower() != self.settings.bounce_domain or not local.startswith("bounces+"):
            return None
        try:
            return self.signer.read_bounce_address(address.strip().strip("<>"))
        except InvalidToken:
            return None

    async def take(
        self,
        pool: asyncpg.Pool,
        feedback: Feedback,
        raw: bytes,
        envelope: Envelope = Envelope(),
        *,
        receipt: tuple[str, str] | None = None,
    ) -> Taken | None:
        """Store and act on one report in one transaction; None if `receipt` (source, key)
        was taken before (a replay: nothing is done twice)."""
        async with pool.acquire() as conn, conn.transaction():
            if receipt is not None and await conn.fetchval(Q["take_receipt"], *receipt) is None:
                return None
            return await self.take_in(conn, feedback, raw, envelope)

    async def take_in(
        self, conn: Connection, feedback: Feedback, raw: bytes, envelope: Envelope
    ) -> Taken:
        match = await self._match(conn, feedback)
        delivery_id = match.delivery["delivery_id"] if match.delivery else None
        summary = {**feedback.summary, "outcome": feedback.outcome, "matched_by": match.how}
        if match.problem is not None:
            status, problem = "unmatched", match.problem
        elif feedback.outcome is None:
            status, problem = "ignored", f"nothing to act on: {feedback.detail}"
        else:
            status, problem = "processed", None
            await apply_bounces(
                conn,
                self.settings.bounces,
                [
                    Bounce(
                        delivery_id=delivery_id,
                        subscriber_id=match.subscriber_id,
                        recipient=match.recipient or "",
                        kind=feedback.outcome,
                        source=feedback.source if feedback.kind == "event" else feedback.kind,
                        detail=feedback.detail,
                    )
                ],
            )
        report_id = await conn.fetchval(
            Q["insert_report"],
            feedback.source,
            feedback.kind,
            status,
            envelope.mail_from,
            envelope.rcpt_to,
            envelope.peer,
            delivery_id,
            match.subscriber_id,
            problem,
            summary,
            raw[:MAX_RAW],
        )
        return Taken(report_id, status, delivery_id, match.subscriber_id, problem)

    async def _match(self, conn: Connection, fb: Feedback) -> _Match:
        delivery_id, how = fb.delivery_id, "envelope address"
        if delivery_id is None:
            delivery_id, how = self.verp_delivery(fb.original.return_path), "original Return-Path"
        if delivery_id is not None:
            row = await conn.fetchrow(Q["get_delivery"], delivery_id)
            if row is None:
                return _Match(how=how, problem=f"delivery {delivery_id} does not exist (any more)")
            return _Match(row, row["subscriber_id"], row["recipient"] or fb.recipient, how)
        by_message_id = await self._by_message_id(conn, fb.original.message_id)
        token_subscriber = self._unsubscribe_token(fb.original.list_unsubscribe)
        if token_subscriber is not None:
            subscriber = await conn.fetchrow(Q["get_subscriber_email"], token_subscriber)
            if subscriber is None:
                return _Match(how="signed link", problem="the subscriber no longer exists")
            delivery = by_message_id
            if delivery is not None and delivery["subscriber_id"] != token_subscriber:
                delivery = None  # the Message-ID is not theirs: trust only the signed link
            return _Match(
                delivery, token_subscriber, subscriber["email"], "signed unsubscribe link"
            )
        if fb.trusted_recipient and fb.recipient:
            if by_message_id is not None and address_key(by_message_id["recipient"]) == address_key(
                fb.recipient
            ):
                row = by_message_id
                return _Match(row, row["subscriber_id"], row["recipient"], "Message-ID and address")
            subscriber = await conn.fetchrow(Q["find_subscriber"], address_key(fb.recipient))
            if subscriber is None:
                return _Match(
                    how="address", problem=f"no subscriber has the address {fb.recipient}"
                )
            latest = await conn.fetchval(Q["latest_delivery_to"], subscriber["subscriber_id"])
            delivery = await conn.fetchrow(Q["get_delivery"], latest) if latest else None
            return _Match(delivery, subscriber["subscriber_id"], subscriber["email"], "address")
        return _Match(
            how="none",
            problem="no signed evidence names the mail (envelope address, Return-Path or "
            "unsubscribe link); a bare Message-ID or address is not trusted",
        )

    async def _by_message_id(
        self, conn: Connection, message_id: str | None
    ) -> asyncpg.Record | None:
        match = _MESSAGE_ID.match((message_id or "").strip())
        if not match or match.group(3).lower() != self.from_domain:
            return None
        row = await conn.fetchrow(Q["get_delivery"], int(match.group(1)))
        if row is None or row["kind"] != match.group(2):
            return None
        return row

    def _unsubscribe_token(self, header: str | None) -> int | None:
        match = _UNSUBSCRIBE.search(header or "")
        if not match:
            return None
        try:
            subscriber_id, _ = self.signer.read_subscriber_token(
                Purpose.UNSUBSCRIBE, match.group(1)
            )
        except InvalidToken:
            return None
        return subscriber_id


async def keep_report(
    pool: asyncpg.Pool, status: str, source: str, raw: bytes, problem: str, envelope: Envelope
) -> int:
    """A report nobody could read (unparseable), or a recipient refused at RCPT (refused):
    kept (up to MAX_RAW of it) for an editor."""
    report_id: int = await pool.fetchval(
        Q["insert_report"],
        source,
        "unknown",
        status,
        envelope.mail_from,
        envelope.rcpt_to,
        envelope.peer,
        None,
        None,
        problem[:1000],
        {},
        raw[:MAX_RAW] or None,
    )
    return report_id
