"""An in-process aiosmtpd server that records what it receives and can be told to fail."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    # Replies to give instead of accepting, one per message, e.g. "451 4.3.0 try later".
    data_replies: deque[str] = field(default_factory=deque)
    # Replies to RCPT TO for given addresses, e.g. {"x@example.org": "550 5.1.1 no such user"}.
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    # Replies to MAIL FROM for given senders, e.g. {"a@example.org": "553 5.7.1 not you"}.
    mail_replies: dict[str, str] = field(default_factory=dict)
    # Offer PIPELINING in the EHLO reply, as real relays do (aiosmtpd reads the commands of
    # a pipelined group one by one from its buffer, which is all a server needs to do).
    pipelining: bool = True
    # Each EHLO reply's extensions, to check what a test ran against.
    offered: list[list[str]] = field(default_factory=list)
    # Abort the connection during this many DATA transfers (no reply at all).
    drops: int = 0
    # Seconds to wait before answering DATA (a slow server).
    delay: float = 0.0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        self.offered.append([r[4:] for r in responses[1:]])
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.mail_replies.get(address)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.drops > 0:
            self.drops -= 1
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
            return "421 gone"
        if self.data_replies:
            return self.data_replies.popleft()
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content or b"",
            )
        )
        self.arrived.set()
        return "250 OK"


@dataclass
class SmtpSink:
    host: str
    port: int
    handler: RecordingHandler
    server: asyncio.Server

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def recipients(self) -> list[str]:
        return [rcpt for mail in self.handler.received for rcpt in mail.rcpt_tos]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len(self.handler.received) < count:
                self.handler.arrived.clear()
                await self.handler.arrived.wait()
        return self.handler.received

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_sink(
    host: str = "127.0.0.1", *, smtputf8: bool = True, pipelining: bool = True
) -> SmtpSink:
    """A recording server on a free port; it offers SMTPUTF8 and PIPELINING as real relays
    do, unless told."""
    handler = RecordingHandler(pipelining=pipelining)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="test-sink", enable_SMTPUTF8=smtputf8), host=host, port=0
    )
    port = server.sockets[0].getsockname()[1]
    return SmtpSink(host=host, port=port, handler=handler, server=server)
