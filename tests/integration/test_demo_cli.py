"""The first run as an operator sees it, with real `mailer` processes: the banner with the
admin's one-time password once, nothing on the next start or with --no-demo, and
`mailer demo reset` (development only, never under a running service, never unasked)."""

from __future__ import annotations

import mailbox
import re
import signal
import time
from pathlib import Path

import asyncpg
import pytest

from mailer.accounts import editors
from mailer.db import open_pool
from mailer.demo.content import DEMO_ADMIN_EMAIL
from mailer.embedded import outbox_dir
from tests.support.process import Service, free_port, mailer_env, run_mailer

pytestmark = pytest.mark.slow

PASSWORD_LINE = re.compile(r"^\s+password\s+(\S+)\s*$", re.MULTILINE)


def serve_once(env: dict[str, str], port: int, *args: str) -> str:
    """Start `mailer serve`, wait until it is running (the first run's seeding comes before
    it says so), stop it; what it printed."""
    log_file = Path(env["MAILER_DATA_DIR"]) / f"serve-{time.monotonic_ns()}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    service = Service.start(env, port, log_file=log_file, args=args)
    service.wait_ready()
    service.wait_for("mailer is running")
    assert service.stop(signal.SIGTERM) == 0, service.output()
    output = service.output()
    assert "Traceback" not in output, output
    return output


async def table_counts(db_url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM topics), (SELECT count(*) FROM editors), "
            "(SELECT count(*) FROM subscribers)"
        )
    finally:
        await conn.close()
    assert row is not None
    return row[0], row[1], row[2]


async def test_first_start_prints_the_password_once(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    env = mailer_env(
        tmp_path, MAILER_DATABASE_URL=db_url, MAILER_LISTEN=f"127.0.0.1:{port}", MAILER_DEMO="true"
    )
    first = serve_once(env, port)
    assert "first start in development with an empty database: demo data seeded" in first
    found = PASSWORD_LINE.search(first)
    assert found, first
    assert f"address       {DEMO_ADMIN_EMAIL}" in first
    pool = await open_pool(db_url, max_size=1)
    try:
        assert await editors.authenticate(
            pool, email=DEMO_ADMIN_EMAIL, password=found.group(1), ip="127.0.0.1"
        )
    finally:
        await pool.close()

    second = serve_once(env, port)
    assert "demo data seeded" not in second
    assert not PASSWORD_LINE.search(second)
    assert await table_counts(db_url) == (4, 1, 0)


async def test_no_demo_flag_and_setting_skip_seeding(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    env = mailer_env(
        tmp_path, MAILER_DATABASE_URL=db_url, MAILER_LISTEN=f"127.0.0.1:{port}", MAILER_DEMO="true"
    )
    assert "demo data" not in serve_once(env, port, "--no-demo")
    assert "demo data" not in serve_once({**env, "MAILER_DEMO": "false"}, port)
    assert await table_counts(db_url) == (0, 0, 0)
    # The next start without either is still a first run: the database is empty.
    assert PASSWORD_LINE.search(serve_once(env, port))


async def test_demo_reset_wipes_and_seeds_again(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    env = mailer_env(
        tmp_path, MAILER_DATABASE_URL=db_url, MAILER_LISTEN=f"127.0.0.1:{port}", MAILER_DEMO="true"
    )
    old_password = PASSWORD_LINE.search(serve_once(env, port))
    assert old_password
    conn = await asyncpg.connect(db_url)
    await conn.execute(
        "INSERT INTO subscribers (email, email_key, status) "
        "VALUES ('zoe@example.org', 'zoe@example.org', 'active')"
    )
    await conn.execute("DELETE FROM topics WHERE slug = 'road-safety'")
    outbox = mailbox.Maildir(outbox_dir(tmp_path), create=True)
    outbox.add(b"Subject: an old mail\r\n\r\nwith a link of the old database\r\n")

    # Refused while something else uses the database (here: this test's connection).
    refused = run_mailer(["demo", "reset", "--yes"], env)
    assert refused.returncode == 1, refused
    assert "stop `mailer serve`" in refused.stderr
    assert "Traceback" not in refused.stderr
    await conn.close()
    assert await table_counts(db_url) == (3, 1, 1)

    # Refused without --yes when nobody can be asked (no terminal).
    unasked = run_mailer(["demo", "reset"], env)
    assert unasked.returncode == 1
    assert "add --yes" in unasked.stdout
    assert await table_counts(db_url) == (3, 1, 1)

    done = run_mailer(["demo", "reset", "--yes"], env)
    assert done.returncode == 0, done
    assert "The database was wiped and the outbox emptied." in done.stdout
    new_password = PASSWORD_LINE.search(done.stdout)
    assert new_password
    assert new_password.group(1) != old_password.group(1)
    assert await table_counts(db_url) == (4, 1, 0)
    assert len(mailbox.Maildir(outbox_dir(tmp_path), create=False)) == 0

    # The service starts on the wiped database without seeding again.
    again = serve_once(env, port)
    assert "demo data seeded" not in again
    assert await table_counts(db_url) == (4, 1, 0)


def test_demo_reset_is_refused_in_production(tmp_path: Path, db_url: str) -> None:
    env = mailer_env(
        tmp_path,
        MAILER_ENV="production",
        MAILER_DATABASE_URL=db_url,
        MAILER_SMTP_URL="smtp://127.0.0.1:2525",
        MAILER_BASE_URL="https://news.example.org",
        MAILER_SECRET_KEY="p" * 40,
        MAILER_FROM="News <news@health.example.org>",
        MAILER_POSTAL_ADDRESS="1 Main St",
    )
    result = run_mailer(["demo", "reset", "--yes"], env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "mailer: demo reset is for development only: MAILER_ENV is production, and a "
        "production database is never wiped"
    )
    # MAILER_DEMO=true in production is a configuration error, not silently ignored.
    bad = run_mailer(["config"], {**env, "MAILER_DEMO": "true"})
    assert bad.returncode == 2
    assert "MAILER_DEMO is for development only" in bad.stderr
