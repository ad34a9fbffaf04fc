"""The SMTP receiver for bounces and complaint reports (aiosmtpd): it accepts mail only for
our signed VERP addresses (and postmaster/abuse/fbl of the bounce domain), stores every
message before answering 250, and answers 4xx when it cannot store (the sender retries).
Whatever the format (DSN, ARF, another MTA's bounce), mail to a signed VERP address acts
on that delivery; auto-replies and delay warnings are kept and change nothing."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailer.config import Settings
from mailer.db import DB_ERRORS
from mailer.errors import StartupError, bind_problem
from mailer.feedback.intake import Envelope as ReportEnvelope
from mailer.feedback.intake import Feedback, Intake, keep_report
from mailer.feedback.mail_unsubscribe import unsubscribe_by_mail, unsubscribe_delivery
from mailer.feedback.parse import UnreadableReport, parse_report
from mailer.limits import SlidingWindow
from mailer.tokens import Signer

log = logging.getLogger(__name__)

MAX_MESSAGE = 10 * 1024 * 1024
# Role addresses of the bounce domain that feedback loops and people write to.
ROLE_ADDRESSES = ("postmaster", "abuse", "fbl")


class ReportHandler:
    """aiosmtpd handler: RCPT checks the address, DATA stores and applies the report."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, signer: Signer) -> None:
        self.pool = pool
        self.settings = settings
        self.intake = Intake(settings, signer)
        # Per peer: reports per minute, and refused recipients recorded per minute.
        self.per_peer = SlidingWindow(600, 60.0)
        self.refusals = SlidingWindow(30, 60.0)

    def _peer(self, session: Session) -> str:
        peer = session.peer
        return str(peer[0]) if isinstance(peer, tuple) else str(peer)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.per_peer.hit(self._peer(session)):
            return "421 4.7.0 Too many reports from your address; try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        local, _, domain = address.rpartition("@")
        if domain.lower() == self.settings.bounce_domain and local.lower() in ROLE_ADDRESSES:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        if self.intake.verp_delivery(address) is not None or self._unsubscribe(address):
            envelope.rcpt_tos.append(address)
            return "250 OK"
        forged = address.lower().startswith(("bounces+", "unsubscribe+"))
        log.warning(
            "bounce receiver refused %s from %s (%s)",
            address,
            self._peer(session),
            "bad signature" if forged else "not our address",
        )
        await self._record_refusal(session, envelope, address, forged)
        if forged:
            return "550 5.7.1 Bounce address signature does not match"
        return "550 5.1.1 No such recipient here"

    async def _record_refusal(
        self, session: Session, envelope: Envelope, address: str, forged: bool
    ) -> None:
        """Refusals are recorded for editors, a bounded number per peer per minute."""
        if self.refusals.hit(self._peer(session)):
            return
        reason = "bad VERP signature" if forged else "not one of our addresses"
        where = ReportEnvelope(str(envelope.mail_from), address[:500], self._peer(session))
        try:
            await keep_report(
                self.pool, "refused", "smtp", b"", f"refused at RCPT: {reason}", where
            )
        except DB_ERRORS as exc:
            log.warning("cannot record a refused bounce recipient (%s)", exc)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            for rcpt in envelope.rcpt_tos:
                where = ReportEnvelope(str(envelope.mail_from), rcpt, self._peer(session))
                try:
                    await self.take(raw, where)
                except DB_ERRORS:
                    raise
                except Exception as exc:  # a report that trips us up is kept, not lost
                    log.exception("bounce report to %s could not be processed", rcpt)
                    problem = f"could not be processed: {exc!r}"
                    await keep_report(self.pool, "unparseable", "smtp", raw, problem, where)
        except DB_ERRORS as exc:
            log.warning("cannot store a bounce report (%s); the sender will retry", exc)
            return "451 4.3.0 Cannot store the report right now; try again later"
        return "250 OK: report received"

    def _unsubscribe(self, address: str | None) -> int | None:
        return unsubscribe_delivery(self.intake.signer, self.settings.bounce_domain, address)

    async def take(self, raw: bytes, envelope: ReportEnvelope) -> None:
        unsubscribing = self._unsubscribe(envelope.rcpt_to)
        if unsubscribing is not None:  # List-Unsubscribe's mailto: whatever the mail says
            log.info("mailed unsubscribe: %s", await unsubscribe_by_mail(self.pool, unsubscribing))
            return
        delivery_id = self.intake.verp_delivery(envelope.rcpt_to)
        try:
            parsed = parse_report(raw)
        except UnreadableReport as exc:
            report_id = await keep_report(self.pool, "unparseable", "smtp", raw, str(exc), envelope)
            log.info("bounce report %d kept for an editor: %s", report_id, exc)
            return
        feedback = Feedback(
            outcome=parsed.outcome,
            kind=parsed.kind,
            source="smtp",
            detail=parsed.detail,
            recipient=parsed.recipient,
            original=parsed.original,
            delivery_id=delivery_id,
            summary={**parsed.summary, "category": parsed.category},
        )
        taken = await self.intake.take(self.pool, feedback, raw, envelope)
        assert taken is not None
        log.info(
            "%s report %d %s (delivery %s, subscriber %s)%s",
            parsed.kind.upper(),
            taken.report_id,
            taken.status,
            taken.delivery_id,
            taken.subscriber_id,
            f": {taken.problem}" if taken.problem else "",
        )


@dataclass
class BounceReceiver:
    server: asyncio.AbstractServer
    host: str
    port: int

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_receiver(
    pool: asyncpg.Pool,
    settings: Settings,
    signer: Signer,
    *,
    host: str | None = None,
    port: int | None = None,
) -> BounceReceiver:
    """Listen on MAILER_BOUNCE_LISTEN (or the given address; port 0 picks a free one)."""
    handler = ReportHandler(pool, settings, signer)
    bind_host = settings.bounces.listen_host if host is None else host
    bind_port = settings.bounces.listen_port if port is None else port

    def protocol() -> SMTP:
        return SMTP(
            handler,
            hostname=settings.bounce_domain,
            data_size_limit=MAX_MESSAGE,
            enable_SMTPUTF8=True,
            ident="mailer bounce receiver",
        )

    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(protocol, host=bind_host, port=bind_port)
    except OSError as exc:
        raise StartupError(
            f"the bounce receiver cannot listen on {bind_host}:{bind_port} "
            f"(MAILER_BOUNCE_LISTEN): {bind_problem(exc)}"
        ) from exc
    bound = server.sockets[0].getsockname()[1]
    log.info("bounce receiver (SMTP) on %s:%d for *@%s", bind_host, bound, settings.bounce_domain)
    return BounceReceiver(server, bind_host, bound)
