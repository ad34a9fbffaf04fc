"""SMTP PIPELINING (RFC 2920) on a connection aiosmtplib opened: MAIL, RCPT and DATA go
out in one write and their replies come back together, then the message in a second.

aiosmtplib does the connecting (TLS, STARTTLS, AUTH, EHLO); when the server offers
PIPELINING the connection's transport is handed to the small reply reader below, which
keeps every reply that arrives (aiosmtplib's own reader expects one reply per command and
drops bytes that come while none is awaited, so it cannot read pipelined replies). Two
writes and two wake-ups a message instead of four each: under the signup benchmark the
confirmation sender's SMTP writes were the biggest single cost of the process.

Every reply is still read and judged in order, with the same outcomes as one command at a
time: a refused sender or recipient fails the message (and RSET readies the connection
for the next), a 421 closes it.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from typing import cast

import aiosmtplib

# An address needing no quoting or parsing: what aiosmtplib's quote_address makes of it is
# "<address>" (checked by a test); anything else goes through quote_address itself.
_PLAIN = re.compile(r"[^\x00-\x20\x7f<>()\[\]\\,;:\"@]+@[^\x00-\x20\x7f<>()\[\]\\,;:\"@]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # as aiosmtplib refuses in a command's arguments
_MAX_LINE = 8192  # a reply line longer than this is not SMTP
_MAX_BUFFER = 64 * 1024


def quoted(address: str) -> str:
    """`<address>` as aiosmtplib's MAIL and RCPT send it (ValueError if it cannot be)."""
    if _PLAIN.fullmatch(address):
        return f"<{address}>"
    return aiosmtplib.email.quote_address(address)


class _Replies(asyncio.Protocol):
    """Collects whole replies (multi-line ones joined, as aiosmtplib does) as they come."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._replies: deque[aiosmtplib.SMTPResponse] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: Exception | None = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            reply = self._parse()
            if reply is None:
                break
            self._replies.append(reply)
        if len(self._buffer) > _MAX_BUFFER:
            self._fail(aiosmtplib.SMTPResponseException(-1, "Response too long"))
        self._wake()

    def _parse(self) -> aiosmtplib.SMTPResponse | None:
        offset = 0
        lines: list[bytes] = []
        while True:
            end = self._buffer.find(b"\n", offset)
            if end == -1:
                return None
            line = bytes(self._buffer[offset : end + 1])
            if len(line) > _MAX_LINE or not line[:3].isdigit():
                text = line[:200].decode("utf-8", "replace").strip()
                self._fail(aiosmtplib.SMTPResponseException(-1, f"Malformed reply: {text}"))
                return None
            offset = end + 1
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                del self._buffer[:offset]
                message = b"\n".join(lines).decode("utf-8", "surrogateescape")
                return aiosmtplib.SMTPResponse(int(line[:3]), message)

    def _fail(self, exc: Exception) -> None:
        if self._lost is None:
            self._lost = exc
        self._buffer.clear()
        if self.transport is not None:
            self.transport.abort()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost is None:
            self._lost = aiosmtplib.SMTPServerDisconnected("Connection lost")
            self._lost.__cause__ = exc
        self.transport = None
        self._wake()

    def eof_received(self) -> bool:
        return False  # closes the transport; connection_lost follows

    async def read(self) -> aiosmtplib.SMTPResponse:
        """The next reply, in order; SMTPServerDisconnected once the connection is gone."""
        while not self._replies:
            if self._lost is not None:
                raise self._lost
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._replies.popleft()


class Pipelined:
    """The session after aiosmtplib's greeting and EHLO, when the server pipelines."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        transport = cast(asyncio.Transport | None, client.transport)  # uvloop's: not a subclass
        if transport is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self.smtputf8 = client.supports_extension("smtputf8")
        self._replies = _Replies()
        self._replies.transport = transport
        self._transport = transport
        transport.set_protocol(self._replies)

    @property
    def is_connected(self) -> bool:
        return self._replies.transport is not None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.is_connected:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self._transport.write(data)

    def envelope(self, sender: str, recipient: str, *, smtputf8: bool) -> None:
        """MAIL, RCPT and DATA in one write; `read` their three replies."""
        encoding = "utf-8" if smtputf8 else "ascii"
        mail = f"MAIL FROM:{quoted(sender)}" + (" SMTPUTF8" if smtputf8 else "")
        rcpt = f"RCPT TO:{quoted(recipient)}"
        if _CONTROL.search(mail) or _CONTROL.search(rcpt):
            raise ValueError("Command arg contains a prohibited control character")
        self.write(f"{mail}\r\n{rcpt}\r\nDATA\r\n".encode(encoding))

    async def read(self) -> aiosmtplib.SMTPResponse:
        """The reply to the oldest command not answered yet."""
        return await self._replies.read()

    async def command(self, line: bytes) -> aiosmtplib.SMTPResponse:
        self.write(line + b"\r\n")
        return await self._replies.read()

    async def data(self, stuffed: bytes) -> aiosmtplib.SMTPResponse:
        """The message (dot-stuffed, ending in CRLF) and the final dot; the server's reply."""
        self.write(stuffed + b".\r\n")
        return await self._replies.read()

    def abort(self) -> None:
        self._transport.abort()

    async def quit(self) -> None:
        try:
            await self.command(b"QUIT")
        finally:
            self._transport.close()
