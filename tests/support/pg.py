"""A real PostgreSQL for the tests: one template database per run, one clone per test."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from mailer.migrate import apply_migrations
from mailer.resources import migrations_dir

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _answers(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


@dataclass
class PgServer:
    """The server the run uses, and the databases it made there (dropped at the end)."""

    admin_url: str
    run_id: str = field(default_factory=lambda: f"{os.getpid()}_{secrets.token_hex(3)}")
    template: str = ""
    created: list[str] = field(default_factory=list)
    embedded: Any = None
    counter: int = 0

    @classmethod
    async def find(cls) -> PgServer:
        """MAILER_TEST_DATABASE_URL, else the local server on :5432, else an embedded one."""
        configured = os.environ.get("MAILER_TEST_DATABASE_URL")
        if configured:
            return cls(admin_url=configured)
        if await _answers(LOCAL_SERVER):
            return cls(admin_url=LOCAL_SERVER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        pgdata = Path(tempfile.mkdtemp(prefix="mailer-test-pg-"))
        server = await asyncio.to_thread(pgserver.get_server, pgdata, cleanup_mode="delete")
        return cls(admin_url=server.get_uri("postgres"), embedded=server)

    async def create_template(self) -> None:
        self.template = f"mailer_test_{self.run_id}_tpl"
        await self._admin(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        conn = await asyncpg.connect(with_database(self.admin_url, self.template))
        try:
            await apply_migrations(conn, migrations_dir())
        finally:
            await conn.close()

    async def clone(self) -> str:
        """A fresh, migrated database for one test; cheap because it copies the template."""
        self.counter += 1
        name = f"mailer_test_{self.run_id}_{self.counter}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" STRATEGY FILE_COPY')
        self.created.append(name)
        return with_database(self.admin_url, name)

    async def empty(self) -> str:
        """An empty database (no migrations) for tests of the migrator itself."""
        self.counter += 1
        name = f"mailer_test_{self.run_id}_{self.counter}"
        await self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return with_database(self.admin_url, name)

    async def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    async def drop_all(self) -> None:
        for name in reversed(self.created):
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.cleanup)

    async def _admin(self, statement: str) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()
