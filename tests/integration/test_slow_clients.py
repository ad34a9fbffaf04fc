"""Slow and greedy clients over a real socket (issue 19, item 4): headers and bodies sent a
byte at a time are cut off at their time limits, connections beyond the per-address cap are
refused, and ordinary requests (keep-alive ones too) are served as before."""

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from mailer.web.app import create_app
from mailer.web.connections import GuardedSite, connection_guard_key
from tests.support.factories import engine_settings

HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 2.0
PER_IP = 3


@pytest.fixture
async def port(pool: asyncpg.Pool, tmp_path: Path) -> AsyncIterator[int]:
    settings = engine_settings(
        tmp_path,
        header_timeout=HEADER_TIMEOUT,
        body_timeout=BODY_TIMEOUT,
        connections_per_ip=PER_IP,
    )
    app = create_app(settings, pool)
    runner = web.AppRunner(app)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, guard=app[connection_guard_key])
    await site.start()
    try:
        yield site.port
    finally:
        await runner.cleanup()


async def closed_after(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, drip: bytes
) -> float:
    """Send `drip` a byte every 0.25 s until the server closes the connection; the seconds
    that took (the test fails if it is still open after 10 s)."""
    started = time.monotonic()
    for byte in drip:
        if reader.at_eof() or writer.is_closing():
            break
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            break
        try:
            data = await asyncio.wait_for(reader.read(1024), 0.25)
        except TimeoutError:
            data = None
        except ConnectionError:
            break
        if data == b"":
            break
        assert data is None, data  # nothing answered before the request is complete
        assert time.monotonic() - started < 10, "the slow client was never cut off"
    writer.close()
    return time.monotonic() - started


async def get(
    port: int, writer_reader: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
) -> bytes:
    reader, writer = writer_reader or await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = re.search(rb"Content-Length: (\d+)", head, re.IGNORECASE)
    assert length, head
    await reader.readexactly(int(length.group(1)))
    if writer_reader is None:
        writer.close()
        await writer.wait_closed()
    return head


async def test_headers_sent_a_byte_at_a_time_are_cut_off(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    drip = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n" + b"X-Slow: " + b"a" * 200
    took = await closed_after(reader, writer, drip)
    assert HEADER_TIMEOUT - 0.1 <= took < HEADER_TIMEOUT + 2


async def test_a_connection_that_sends_nothing_is_cut_off(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), HEADER_TIMEOUT + 3) == b""
    assert time.monotonic() - started >= HEADER_TIMEOUT - 0.1
    writer.close()


async def test_a_body_sent_a_byte_at_a_time_is_cut_off(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /subscribe HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 400\r\n\r\n"
    )
    await writer.drain()
    took = await closed_after(reader, writer, b"email=" + b"a" * 394)
    assert BODY_TIMEOUT - 0.1 <= took < BODY_TIMEOUT + 2


async def test_connections_beyond_the_cap_per_address_are_refused(port: int) -> None:
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(PER_IP)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        refused = await asyncio.wait_for(reader.read(), 1.0)
    except ConnectionError:
        refused = b""
    assert refused == b"" and time.monotonic() - started < 1.0  # closed at once
    writer.close()
    # The held connections still work, and once one closes a new one is let in.
    assert (await get(port, held[0])).startswith(b"HTTP/1.1 200")
    held[1][1].close()
    await asyncio.sleep(0.2)
    assert (await get(port)).startswith(b"HTTP/1.1 200")
    for _, held_writer in held:
        held_writer.close()


async def test_ordinary_and_keep_alive_requests_are_served(port: int) -> None:
    connection = await asyncio.open_connection("127.0.0.1", port)
    assert (await get(port, connection)).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(HEADER_TIMEOUT + 0.5)  # idle between requests is not a slow header
    assert (await get(port, connection)).startswith(b"HTTP/1.1 200")
    connection[1].close()


def test_the_guard_works_on_uvloop_as_mailer_serve_runs_it(tmp_path: Path) -> None:
    """`mailer serve` runs on uvloop, whose transports are not asyncio's classes."""
    uvloop = pytest.importorskip("uvloop")
    settings = engine_settings(
        tmp_path, header_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT, connections_per_ip=1
    )

    async def scenario() -> tuple[float, bytes, bytes]:
        app = create_app(settings, None)  # type: ignore[arg-type]  # /healthz needs no database
        runner = web.AppRunner(app)
        await runner.setup()
        site = GuardedSite(runner, "127.0.0.1", 0, guard=app[connection_guard_key])
        await site.start()
        try:
            served = await get(site.port)
            await asyncio.sleep(0.2)  # the server has seen that connection close
            held = await asyncio.open_connection("127.0.0.1", site.port)
            extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", site.port)
            over_cap = await asyncio.wait_for(extra_reader.read(), 2)
            extra_writer.close()
            took = await closed_after(*held, b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 100)
            return took, served, over_cap
        finally:
            await runner.cleanup()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        took, served, over_cap = runner.run(scenario())
    assert served.startswith(b"HTTP/1.1 200")
    assert over_cap == b""
    assert HEADER_TIMEOUT - 0.1 <= took < HEADER_TIMEOUT + 2
