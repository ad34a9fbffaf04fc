"""Shared fixtures: a real PostgreSQL (template + clone per test) and a real SMTP sink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from mailer.db import open_pool
from tests.support.pg import PgServer
from tests.support.smtp_sink import SmtpSink, start_sink


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = asyncio.run(PgServer.find())
    asyncio.run(server.create_template())
    yield server
    asyncio.run(server.drop_all())


@pytest.fixture
async def db_url(pg_server: PgServer) -> AsyncIterator[str]:
    url = await pg_server.clone()
    yield url
    await pg_server.drop(url)


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await open_pool(db_url, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = await start_sink()
    yield sink
    await sink.close()
