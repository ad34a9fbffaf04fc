"""One persistent SMTP connection, and SMTP errors translated to temporary or permanent."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from typing import cast

import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import MAX_RESPONSE_LENGTH, SMTPProtocol
from aiosmtplib.response import SMTPResponse

from mailer.config import SmtpSecurity, SmtpSettings
from mailer.errors import DeliveryFailed

log = logging.getLogger(__name__)

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# An address aiosmtplib's quote_address would give back as it is (no display name, comment,
# quoting, space or control character): put in angle brackets without parsing it again.
_PLAIN_ADDRESS = re.compile(
    r'[^\s\x00-\x1f\x7f<>()\[\]\\,;:@"]+@[^\s\x00-\x1f\x7f<>()\[\]\\,;:@"]+'
)


class SmtpFailure(DeliveryFailed):
    """A failed attempt, with the phase it failed in and the enhanced status if given."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: int | None = None,
        phase: str = "connection",
        enhanced: str | None = None,
    ) -> None:
        super().__init__(message, permanent=permanent, code=code)
        self.phase = phase
        self.enhanced = enhanced

    @property
    def hard_bounce(self) -> bool:
        """The address itself is bad (RFC 3463 5.1.x / 5.2.1, or a bare 550/551/553 to RCPT):
        such an address is suppressed. Other permanent failures (policy, content) are not
        the subscriber's fault and suppress nobody."""
        if not self.permanent:
            return False
        if self.enhanced is not None:
            return self.enhanced.startswith("5.1.") or self.enhanced == "5.2.1"
        return self.phase == "recipient" and self.code in (550, 551, 553)

    @property
    def reply(self) -> str:
        return f"{self.code} {self}" if self.code else str(self)


def _dot_stuffed(message: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with a period gets one more; ends with CRLF."""
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n"


def _failure(exc: aiosmtplib.SMTPResponseException, phase: str) -> SmtpFailure:
    text = " ".join(exc.message.split())
    match = _ENHANCED.match(text)
    permanent = 500 <= exc.code < 600
    return SmtpFailure(
        text,
        permanent=permanent,
        code=exc.code,
        phase=phase,
        enhanced=".".join(match.groups()) if match else None,
    )


def _path(address: str, encoding: str) -> bytes:
    """<address> for MAIL FROM or RCPT TO; refuses what could inject a command, as
    aiosmtplib's mail() and rcpt() do."""
    quoted = f"<{address}>" if _PLAIN_ADDRESS.fullmatch(address) else quote_address(address)
    return quoted.encode(encoding)


class PipeliningProtocol(SMTPProtocol):
    """aiosmtplib's protocol, able to take the replies to several commands written at once
    (RFC 2920). Its own read_response keeps one parsed reply and drops data arriving while
    that reply waits to be read, so pipelined replies would be lost; here, while a group's
    replies are due, data is kept in the buffer and parsed (by aiosmtplib's parser) one reply
    per read. aiosmtplib makes its protocol inside connect() with no hook for a subclass:
    SmtpConnection sets the class of the one it made (this class adds no state of its own
    but the class attribute below)."""

    due = 0  # replies still due to the group being read

    def data_received(self, data: bytes) -> None:
        if self.due <= 0:
            super().data_received(data)
            return
        self._buffer.extend(data)
        if len(self._buffer) > MAX_RESPONSE_LENGTH:
            del self._buffer[:]
            if self._response_waiter is not None and not self._response_waiter.done():
                self._set_response_exception(
                    self._response_waiter,
                    aiosmtplib.SMTPResponseException(500, "Response too long"),
                )
            return
        self._hand_over()

    def _hand_over(self) -> None:
        """The next complete reply in the buffer, to the waiting read."""
        waiter = self._response_waiter
        if waiter is None or waiter.done():
            return
        try:
            reply = self._read_response_from_buffer()
        except Exception as exc:
            self._set_response_exception(waiter, exc)
            return
        if reply is not None:
            waiter.set_result(reply)

    async def pipeline(self, commands: bytes, count: int) -> list[SMTPResponse]:
        """Write `commands` at once and read their `count` replies, in order. Stops early at
        a 421 (the server is closing) or when the connection ends after at least one reply
        (the caller sees the connection closed)."""
        if self._command_lock is None:
            raise aiosmtplib.SMTPServerDisconnected("Server not connected")
        replies: list[SMTPResponse] = []
        async with self._command_lock:
            self.due = count
            try:
                self._response_pending = True
                self.write(commands)
                while len(replies) < count:
                    self._hand_over()  # already in the buffer with an earlier one
                    try:
                        reply = await self.read_response(timeout=None)
                    except aiosmtplib.SMTPServerDisconnected:
                        if not replies:
                            raise
                        break
                    replies.append(reply)
                    self.due -= 1
                    if reply.code == 421:
                        break
            finally:
                self.due = 0
        return replies


class SmtpConnection:
    """A connection reused for many messages; reconnects on demand after any failure."""

    def __init__(self, settings: SmtpSettings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._client: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        tls_context = ssl.create_default_context() if s.security is not SmtpSecurity.NONE else None
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security is SmtpSecurity.TLS,
            start_tls=s.security is SmtpSecurity.STARTTLS,
            tls_context=tls_context,
            username=s.username,
            password=s.password,
            timeout=self.timeout,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise _failure(exc, "authentication") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _failure(exc, "connection") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SmtpFailure(
                f"cannot connect to {s.host}:{s.port}: {exc}", permanent=False
            ) from exc
        if type(client.protocol) is SMTPProtocol:  # see PipeliningProtocol
            client.protocol.__class__ = PipeliningProtocol
        self._client = client
        return client

    async def send(
        self, sender: str, recipient: str, message: bytes, *, smtputf8: bool, stuffed: bool = False
    ) -> str:
        """Send one message (`stuffed`: dot-stuffed already, CRLF line ends); returns the
        server's reply, or raises SmtpFailure."""
        client = self._client if self._client is not None and self._client.is_connected else None
        if client is None:
            client = await self._connect()
        try:
            # One deadline for the whole transaction, and none per command: aiosmtplib
            # waits for each reply through asyncio.wait_for when given a timeout, which
            # costs every reply an extra turn of the event loop (four per message); under
            # load (the web server in the same loop) that halved the rate of each
            # connection.
            async with asyncio.timeout(self.timeout):
                if not stuffed:
                    message = _dot_stuffed(message)
                elif not message.endswith(b"\r\n"):
                    message += b"\r\n"
                return await self._transaction(client, sender, recipient, message, smtputf8)
        except aiosmtplib.SMTPNotSupported as exc:
            raise SmtpFailure(str(exc), permanent=True, phase="sender") from exc
        except aiosmtplib.SMTPResponseException as exc:
            # 421 and friends: the server is closing; reconnect next time.
            await self.close()
            raise _failure(exc, "connection") from exc
        except TimeoutError as exc:
            # A reply we gave up on may still come: never reuse (or QUIT on) this one.
            client.close()
            self._client = None
            raise SmtpFailure(
                f"connection lost: no reply within {self.timeout:g} s", permanent=False
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self.close()
            reason = str(exc) or type(exc).__name__
            raise SmtpFailure(f"connection lost: {reason}", permanent=False) from exc

    async def _transaction(
        self, client: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes, smtputf8: bool
    ) -> str:
        """MAIL, RCPT, DATA: written at once and answered together where the server offers
        PIPELINING (RFC 2920), else one by one. The message (dot-stuffed, CRLF line ends)
        is written as is: aiosmtplib's own DATA runs two regular expressions over every
        message, most of a worker's CPU."""
        encoding = "utf-8" if smtputf8 else "ascii"
        # Both addresses checked before any command: a refused one leaves no open MAIL.
        paths = (_path(sender, encoding), _path(recipient, encoding))
        if client.is_ehlo_or_helo_needed:  # a fresh connection has not said EHLO yet
            await self._greet(client)
        if smtputf8 and not client.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
        protocol = client.protocol
        if isinstance(protocol, PipeliningProtocol) and client.supports_extension("pipelining"):
            await self._pipelined_envelope(client, protocol, sender, recipient, paths, smtputf8)
        else:
            await self._envelope(client, sender, recipient, smtputf8)
        protocol = client.protocol
        if protocol is None or protocol.transport is None or protocol.transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        transport = cast(asyncio.WriteTransport, protocol.transport)  # uvloop's is not a subclass
        # Two buffers in one write (uvloop: one writev), not a copy of the message.
        transport.writelines((message, b".\r\n"))
        reply = await protocol.read_response(timeout=None)
        if reply.code == 421:
            raise aiosmtplib.SMTPResponseException(reply.code, reply.message)
        if reply.code != 250:
            raise _failure(aiosmtplib.SMTPDataError(reply.code, reply.message), "data")
        return reply.message

    @staticmethod
    async def _greet(client: aiosmtplib.SMTP) -> None:
        """EHLO, or HELO from a server that does not know EHLO."""
        try:
            await client.ehlo(timeout=None)
        except aiosmtplib.SMTPHeloError:
            if not client.is_connected:
                raise
            await client.helo(timeout=None)

    async def _envelope(
        self, client: aiosmtplib.SMTP, sender: str, recipient: str, smtputf8: bool
    ) -> None:
        """MAIL, RCPT and DATA one by one, each waiting for its reply."""
        encoding = "utf-8" if smtputf8 else "ascii"
        options = ["SMTPUTF8"] if smtputf8 else []
        try:
            await client.mail(sender, options=options, encoding=encoding, timeout=None)
        except aiosmtplib.SMTPResponseException as exc:
            raise await self._refused(client, exc, "sender") from exc
        try:
            await client.rcpt(recipient, encoding=encoding, timeout=None)
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421:  # the recipient's domain defers us: its failure, not ours
                await self.close()
                raise _failure(exc, "recipient") from exc
            raise await self._refused(client, exc, "recipient") from exc
        start = await client.execute_command(b"DATA", timeout=None)
        if start.code != 354:
            await self._reset(client)
            raise _failure(aiosmtplib.SMTPDataError(start.code, start.message), "data")

    async def _pipelined_envelope(
        self,
        client: aiosmtplib.SMTP,
        protocol: PipeliningProtocol,
        sender: str,
        recipient: str,
        paths: tuple[bytes, bytes],
        smtputf8: bool,
    ) -> None:
        """MAIL, RCPT and DATA in one write, then their three replies: one round trip
        instead of three. A refused MAIL or RCPT fails the delivery as in the lock-step path
        (the DATA after it gets a 503 or 554, which says nothing more); a server that
        answers 354 all the same gets an empty message ended at once, then RSET."""
        commands = b"".join(
            (
                b"MAIL FROM:",
                paths[0],
                b" SMTPUTF8\r\n" if smtputf8 else b"\r\n",
                b"RCPT TO:",
                paths[1],
                b"\r\nDATA\r\n",
            )
        )
        replies = await protocol.pipeline(commands, 3)
        mail = replies[0]
        if mail.code == 421:  # the server is closing: handled as a connection failure
            raise aiosmtplib.SMTPResponseException(mail.code, mail.message)
        refusal: SmtpFailure | None = None
        if mail.code != 250:
            refusal = _failure(
                aiosmtplib.SMTPSenderRefused(mail.code, mail.message, sender), "sender"
            )
        elif len(replies) < 2:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        else:
            rcpt = replies[1]
            if rcpt.code not in (250, 251):
                refused = aiosmtplib.SMTPRecipientRefused(rcpt.code, rcpt.message, recipient)
                if rcpt.code == 421:  # the recipient's domain defers us: its failure, not ours
                    await self.close()
                    raise _failure(refused, "recipient")
                refusal = _failure(refused, "recipient")
        data = replies[2] if len(replies) > 2 else None
        if refusal is not None:
            if data is None:  # the server hung up after refusing
                client.close()
            else:
                if data.code == 354:  # no recipient, yet it waits for a message: end it
                    protocol.write(b".\r\n")
                    await protocol.read_response(timeout=None)
                await self._reset(client)
            raise refusal
        if data is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        if data.code == 421:
            raise aiosmtplib.SMTPResponseException(data.code, data.message)
        if data.code != 354:
            await self._reset(client)
            raise _failure(aiosmtplib.SMTPDataError(data.code, data.message), "data")

    async def _refused(
        self, client: aiosmtplib.SMTP, exc: aiosmtplib.SMTPResponseException, phase: str
    ) -> Exception:
        if exc.code == 421:
            return exc  # the server is closing: handled as a connection failure
        await self._reset(client)
        return _failure(exc, phase)

    @staticmethod
    async def _reset(client: aiosmtplib.SMTP) -> None:
        """RSET after a refused command, so the connection serves the next message."""
        try:
            await client.rset()
        except aiosmtplib.SMTPResponseException:
            client.close()

    async def close(self) -> None:
        """QUIT politely when possible; never raises."""
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            async with asyncio.timeout(5):
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


async def check_relay(settings: SmtpSettings, *, timeout: float = 10.0) -> SmtpFailure | None:
    """Connect to the relay (TLS and login included) and quit: None when it would take
    mail, else why not. Sends nothing; for the worker's word at start-up."""
    connection = SmtpConnection(settings, timeout=timeout)
    try:
        async with asyncio.timeout(timeout):
            await connection._connect()
    except SmtpFailure as exc:
        return exc
    except TimeoutError:
        return SmtpFailure(f"no answer within {timeout:g} s", permanent=False)
    finally:
        await connection.close()
    return None
