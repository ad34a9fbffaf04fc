"""One persistent SMTP connection, and SMTP errors translated to temporary or permanent."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl

import aiosmtplib

from mailer.config import SmtpSecurity, SmtpSettings
from mailer.delivery.smtp_pipeline import Pipelined
from mailer.errors import DeliveryFailed

log = logging.getLogger(__name__)

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


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


class SmtpConnection:
    """A connection reused for many messages; reconnects on demand after any failure."""

    def __init__(self, settings: SmtpSettings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._client: aiosmtplib.SMTP | None = None
        self._pipe: Pipelined | None = None  # the session, when the server pipelines

    async def _connect(self) -> aiosmtplib.SMTP:
        self._pipe = None
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
            if client.is_ehlo_or_helo_needed:  # aiosmtplib says EHLO lazily; we need it now
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await client.helo()  # no ESMTP: one command at a time, as it says HELO
            if client.supports_extension("pipelining"):
                self._pipe = Pipelined(client)
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise _failure(exc, "authentication") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _failure(exc, "connection") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SmtpFailure(
                f"cannot connect to {s.host}:{s.port}: {exc}", permanent=False
            ) from exc
        self._client = client
        return client

    async def send(self, sender: str, recipient: str, message: bytes, *, smtputf8: bool) -> str:
        """Send one message; returns the server's reply, or raises SmtpFailure."""
        if self._pipe is not None and not self._pipe.is_connected:
            self._pipe = self._client = None
        client = self._client if self._client is not None and self._client.is_connected else None
        if client is None and self._pipe is None:
            client = await self._connect()
        assert client is not None
        try:
            # One deadline for the whole transaction, and none per command: aiosmtplib
            # waits for each reply through asyncio.wait_for when given a timeout, which
            # costs every reply an extra turn of the event loop (four per message); under
            # load (the web server in the same loop) that halved the rate of each
            # connection.
            async with asyncio.timeout(self.timeout):
                if self._pipe is not None:
                    return await self._pipelined(self._pipe, sender, recipient, message, smtputf8)
                return await self._transaction(client, sender, recipient, message, smtputf8)
        except aiosmtplib.SMTPNotSupported as exc:
            raise SmtpFailure(str(exc), permanent=True, phase="sender") from exc
        except aiosmtplib.SMTPResponseException as exc:
            # 421 and friends: the server is closing; reconnect next time.
            await self.close()
            raise _failure(exc, "connection") from exc
        except TimeoutError as exc:
            # A reply we gave up on may still come: never reuse (or QUIT on) this one.
            if self._pipe is not None:
                self._pipe.abort()
            client.close()
            self._client = self._pipe = None
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
        """MAIL, RCPT, DATA. The DATA part is written as is: our messages are built with CRLF
        line ends, so only dot-stuffing is left to do, with one bytes.replace. (aiosmtplib's
        own DATA runs two regular expressions over every message: most of a worker's CPU.)"""
        encoding = "utf-8" if smtputf8 else "ascii"
        if smtputf8:
            if client.is_ehlo_or_helo_needed:  # a fresh connection has not said EHLO yet
                await client.ehlo(timeout=None)
            if not client.supports_extension("smtputf8"):
                raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
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
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        protocol.write(_dot_stuffed(message) + b".\r\n")
        reply = await protocol.read_response(timeout=None)
        if reply.code == 421:
            raise aiosmtplib.SMTPResponseException(reply.code, reply.message)
        if reply.code != 250:
            raise _failure(aiosmtplib.SMTPDataError(reply.code, reply.message), "data")
        return reply.message

    async def _pipelined(
        self, pipe: Pipelined, sender: str, recipient: str, message: bytes, smtputf8: bool
    ) -> str:
        """The same transaction as `_transaction`, pipelined (smtp_pipeline): the replies to
        MAIL, RCPT and DATA are judged in that order, with the same outcomes."""
        if smtputf8 and not pipe.smtputf8:
            raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
        pipe.envelope(sender, recipient, smtputf8=smtputf8)
        mail = await pipe.read()
        if mail.code == 421:  # the server is closing: handled as a connection failure
            raise aiosmtplib.SMTPResponseException(mail.code, mail.message)
        rcpt = await pipe.read()
        if mail.code == 250 and rcpt.code == 421:  # the domain defers us: its failure
            await self.close()
            raise _failure(aiosmtplib.SMTPResponseException(rcpt.code, rcpt.message), "recipient")
        start = await pipe.read()
        refused: tuple[aiosmtplib.SMTPResponse, str] | None = None
        if mail.code != 250:
            refused = mail, "sender"
        elif rcpt.code not in (250, 251):
            refused = rcpt, "recipient"
        elif start.code != 354:
            refused = start, "data"
        if refused is not None:
            if start.code == 354:  # RFC 2920: DATA taken after all; send an empty message
                await pipe.data(b"")
            reset = await pipe.command(b"RSET")
            if reset.code != 250:
                pipe.abort()
            reply, phase = refused
            raise _failure(aiosmtplib.SMTPResponseException(reply.code, reply.message), phase)
        reply = await pipe.data(_dot_stuffed(message))
        if reply.code == 421:
            raise aiosmtplib.SMTPResponseException(reply.code, reply.message)
        if reply.code != 250:
            raise _failure(aiosmtplib.SMTPDataError(reply.code, reply.message), "data")
        return reply.message

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
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            if pipe.is_connected:
                try:
                    async with asyncio.timeout(5):
                        await pipe.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    pipe.abort()
            return
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
