import asyncio
from pathlib import Path

import asyncpg
import pytest

from mailer.errors import MigrationError
from mailer.migrate import apply_migrations, discover, pending_migrations
from tests.support.pg import PgServer


@pytest.fixture
async def empty_db(pg_server: PgServer):  # type: ignore[no-untyped-def]
    url = await pg_server.empty()
    yield url
    await pg_server.drop(url)


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


async def test_applies_in_numeric_order_once(empty_db: str, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "m",
        {
            "0002_add_column.sql": "ALTER TABLE things ADD COLUMN label text;",
            "0001_create.sql": "CREATE TABLE things (id int PRIMARY KEY);",
            "0010_insert.sql": "INSERT INTO things VALUES (1, 'one');",
        },
    )
    conn = await asyncpg.connect(empty_db)
    try:
        applied = await apply_migrations(conn, folder)
        assert applied == ["0001_create", "0002_add_column", "0010_insert"]
        assert await apply_migrations(conn, folder) == []
        assert await conn.fetchval("SELECT label FROM things") == "one"
        assert await pending_migrations(conn, folder) == []
    finally:
        await conn.close()


async def test_edited_migration_is_refused(empty_db: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "m", {"0001_create.sql": "CREATE TABLE things (id int);"})
    conn = await asyncpg.connect(empty_db)
    try:
        await apply_migrations(conn, folder)
        (folder / "0001_create.sql").write_text("CREATE TABLE things (id bigint);")
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await apply_migrations(conn, folder)
    finally:
        await conn.close()


async def test_failing_migration_leaves_schema_as_it_was(empty_db: str, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE kept (id int);",
            "0002_broken.sql": "CREATE TABLE half (id int);\nSELECT no_such_function();",
        },
    )
    conn = await asyncpg.connect(empty_db)
    try:
        with pytest.raises(MigrationError, match="0002_broken failed and was rolled back"):
            await apply_migrations(conn, folder)
        assert await conn.fetchval("SELECT to_regclass('kept') IS NOT NULL")
        assert not await conn.fetchval("SELECT to_regclass('half') IS NOT NULL")
        assert await pending_migrations(conn, folder) == ["0002_broken"]
    finally:
        await conn.close()


async def test_unknown_applied_migration_is_refused(empty_db: str, tmp_path: Path) -> None:
    newer = write(tmp_path / "newer", {"0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;"})
    older = write(tmp_path / "older", {"0001_a.sql": "SELECT 1;"})
    conn = await asyncpg.connect(empty_db)
    try:
        await apply_migrations(conn, newer)
        with pytest.raises(MigrationError, match="does not know"):
            await apply_migrations(conn, older)
    finally:
        await conn.close()


async def test_concurrent_starts_apply_each_migration_once(empty_db: str, tmp_path: Path) -> None:
    # A slow first migration makes the race real: every starter arrives while it runs.
    folder = write(
        tmp_path / "m",
        {
            "0001_slow.sql": "SELECT pg_sleep(0.5); CREATE TABLE things (id int);",
            "0002_fill.sql": "INSERT INTO things VALUES (1);",
        },
    )
    conns = [await asyncpg.connect(empty_db) for _ in range(5)]
    try:
        results = await asyncio.gather(*(apply_migrations(c, folder) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 0, 0, 2]
        assert await conns[0].fetchval("SELECT count(*) FROM things") == 1
    finally:
        for conn in conns:
            await conn.close()


def test_badly_named_or_duplicate_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="not named"):
        discover(write(tmp_path / "a", {"1_x.sql": ""}))
    with pytest.raises(MigrationError, match="share the number"):
        discover(write(tmp_path / "b", {"0001_x.sql": "", "0001_y.sql": ""}))
    with pytest.raises(MigrationError, match="does not exist"):
        discover(tmp_path / "missing")


async def test_a_user_without_the_right_to_create_tables(empty_db: str, tmp_path: Path) -> None:
    """A DML-only runtime user (its own, separate from the one that migrates) starts on a
    migrated database; on a fresh one it is told why not in one sentence, not a traceback."""
    import os
    from urllib.parse import urlsplit

    folder = write(tmp_path / "m", {"0001_create.sql": "CREATE TABLE things (id int);"})
    role = f"mailer_dml_only_{os.getpid()}"
    parts = urlsplit(empty_db)
    as_role = parts._replace(
        netloc=f"{role}:dml-only-pw@{parts.hostname}:{parts.port or 5432}"
    ).geturl()
    admin = await asyncpg.connect(empty_db)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'dml-only-pw'")
    user = None
    try:
        await admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await admin.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        user = await asyncpg.connect(as_role)
        with pytest.raises(MigrationError, match="cannot read or create the migrations ledger"):
            await apply_migrations(user, folder)
        assert await apply_migrations(admin, folder) == ["0001_create"]
        await admin.execute(f"GRANT SELECT ON schema_migrations, things TO {role}")
        assert await apply_migrations(user, folder) == []
    finally:
        if user is not None:
            await user.close()
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()
