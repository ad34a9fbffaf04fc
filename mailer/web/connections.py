"""Slow and greedy clients: a request's headers must arrive within a time limit, and its body
within another, and one client address holds a bounded number of connections at once.

aiohttp has no header-read timeout of its own (its keep-alive timer stops at the first byte,
so a client sending a header line a second holds a connection for ever). Each connection's
protocol is wrapped: it starts the header clock when a request's first bytes arrive (or the
connection opens), the outermost middleware stops it when the headers are parsed and starts
the body clock, and a clock that runs out aborts the connection."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import cast

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)


class _State(Enum):
    HEADERS = "headers"  # waiting for a request's headers: the header clock runs
    REQUEST = "request"  # a handler runs; the body clock runs until the body has arrived
    IDLE = "idle"  # between requests: aiohttp's keep-alive timeout applies


@dataclass
class _Connection:
    transport: asyncio.Transport
    state: _State = _State.HEADERS
    timer: asyncio.TimerHandle | None = None

    def stop_clock(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


@dataclass
class ConnectionGuard:
    """The limits, and the connections open now (by transport, and counted by address)."""

    header_timeout: float
    body_timeout: float
    per_ip: int  # 0: no cap (behind a proxy every connection has the proxy's address)
    open: dict[asyncio.BaseTransport, _Connection] = field(default_factory=dict)
    by_ip: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    timed_out: int = 0

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for loop.create_server, around aiohttp's."""
        return lambda: _GuardedProtocol(self, factory())

    def _start_clock(
        self,
        connection: _Connection,
        seconds: float,
        what: str,
        waiting: Callable[[], bool] = lambda: True,
    ) -> None:
        connection.stop_clock()
        loop = asyncio.get_running_loop()
        connection.timer = loop.call_later(seconds, self._expire, connection, what, waiting)

    def _expire(self, connection: _Connection, what: str, waiting: Callable[[], bool]) -> None:
        connection.timer = None
        if not waiting():  # it did arrive (a handler may work on long after its body)
            return
        self.timed_out += 1
        peer = connection.transport.get_extra_info("peername")
        log.info("closing a connection from %s: its %s took too long", _ip(peer), what)
        connection.transport.abort()

    def request_started(self, request: web.Request) -> None:
        connection = self.open.get(request.transport) if request.transport else None
        if connection is None:
            return
        connection.state = _State.REQUEST
        connection.stop_clock()
        body = request.content
        if request.body_exists and not body.is_eof():
            self._start_clock(
                connection, self.body_timeout, "request body", lambda: not body.is_eof()
            )

    def request_ended(self, request: web.Request) -> None:
        connection = self.open.get(request.transport) if request.transport else None
        if connection is not None:
            connection.stop_clock()
            connection.state = _State.IDLE


def _ip(peer: object) -> str:
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unknown"


class _GuardedProtocol(asyncio.Protocol):
    """Passes every event on to aiohttp's protocol, keeping the clocks on the way."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._connection: _Connection | None = None
        self._ip = "unknown"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        guard = self._guard
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass of it
        self._ip = _ip(transport.get_extra_info("peername"))
        if guard.per_ip and guard.by_ip[self._ip] >= guard.per_ip:
            guard.refused += 1
            log.info("refusing a connection from %s: %d already open", self._ip, guard.per_ip)
            transport.abort()  # aiohttp never sees it
            return
        guard.by_ip[self._ip] += 1
        self._connection = _Connection(transport)
        guard.open[transport] = self._connection
        guard._start_clock(self._connection, guard.header_timeout, "request headers")
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        connection.stop_clock()
        self._guard.open.pop(connection.transport, None)
        self._guard.by_ip[self._ip] -= 1
        if self._guard.by_ip[self._ip] <= 0:
            del self._guard.by_ip[self._ip]
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        connection = self._connection
        if connection is None:
            return
        if connection.state is _State.IDLE:  # the first bytes of the next request
            connection.state = _State.HEADERS
            self._guard._start_clock(connection, self._guard.header_timeout, "request headers")
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._connection is not None else None

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


connection_guard_key = web.AppKey("connection_guard", ConnectionGuard)


@web.middleware
async def connection_clock_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The outermost middleware: the headers are in, so the header clock stops."""
    guard = request.config_dict.get(connection_guard_key)
    if guard is None:
        return await handler(request)
    guard.request_started(request)
    try:
        return await handler(request)
    finally:
        guard.request_ended(request)


class GuardedSite(web.TCPSite):
    """aiohttp's TCP site with every connection's protocol wrapped by the guard."""

    def __init__(self, runner: web.AppRunner, *args: object, guard: ConnectionGuard, **kw: object):
        super().__init__(runner, *args, **kw)  # type: ignore[arg-type]
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.wrap(server),
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
