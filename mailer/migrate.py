"""Applies migrations/NNNN_*.sql in order, once each, under a transaction-level advisory lock."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from mailer.db import Connection
from mailer.errors import MigrationError

log = logging.getLogger(__name__)

# Any constant shared by every instance: serialises concurrent starts.
_LOCK_KEY = 0x6D61696C6572  # "mailer"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path) -> list[Migration]:
    """Every migration file, ordered by number; a malformed set is an error."""
    if not directory.is_dir():
        raise MigrationError(f"the migrations folder {directory} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations share the number {version:04d}")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def apply_migrations(conn: Connection, directory: Path) -> list[str]:
    """Apply pending migrations, each in its own savepoint; returns what was applied.

    One transaction per run holds a transaction-level advisory lock (kept by poolers in
    transaction mode, unlike a session lock, and released by the commit or rollback whatever
    happens): several instances starting at once wait for each other, and the later ones
    find nothing left to do. A failing migration rolls back whole; those before it in the
    run are committed, then the failure is raised.
    """
    migrations = discover(directory)
    done: list[str] = []
    failure: MigrationError | None = None
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        applied = await _read_ledger(conn)
        _verify(migrations, applied)
        for migration in migrations:
            if migration.version in applied:
                continue
            label = f"{migration.version:04d}_{migration.name}"
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as exc:
                failure = MigrationError(f"migration {label} failed and was rolled back: {exc}")
                failure.__cause__ = exc
                break
            done.append(label)
    for label in done:
        log.info("applied migration %s", label)
    if failure is not None:
        raise failure
    return done


async def _read_ledger(conn: Connection) -> dict[int, str]:
    """The applied migrations, creating the ledger on a fresh database. An existing ledger
    is only read: a user without the right to create tables (a separate, DML-only runtime
    user) can start once another has migrated, and one that cannot gets one sentence."""
    try:
        if not await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
            await conn.execute(_CREATE_LEDGER)
        return await _applied(conn)
    except asyncpg.PostgresError as exc:
        raise MigrationError(
            f"cannot read or create the migrations ledger (schema_migrations): {exc}"
        ) from exc


async def pending_migrations(conn: Connection, directory: Path) -> list[str]:
    """Migrations not yet applied (all of them if the ledger does not exist)."""
    migrations = discover(directory)
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied = await _applied(conn) if exists else {}
    return [f"{m.version:04d}_{m.name}" for m in migrations if m.version not in applied]


async def _applied(conn: Connection) -> dict[int, str]:
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {row["version"]: row["checksum"] for row in rows}


def _verify(migrations: list[Migration], applied: dict[int, str]) -> None:
    known = {m.version: m for m in migrations}
    for version, checksum in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}, which this version of mailer "
                "does not know (is an older release running against a newer database?)"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{migration.name} was edited after it was applied; "
                "migrations are forward-only: restore the file and add a new one"
            )
