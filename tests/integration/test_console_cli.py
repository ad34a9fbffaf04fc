"""`mailer editors ...` as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg

from mailer.accounts import editors
from tests.support.console import PASSWORD
from tests.support.process import mailer_env, run_mailer


async def test_editors_add_list_disable_reset(
    tmp_path: Path, db_url: str, pool: asyncpg.Pool
) -> None:
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_BASE_URL="http://127.0.0.1:9")
    added = run_mailer(
        ["editors", "add", "Ana@Example.org", "--name", "Ana", "--role", "admin"], env
    )
    assert added.returncode == 0, added.stderr
    link = added.stdout.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:9/console/set-password/")
    assert await editors.password_link_owner(pool, link.rsplit("/", 1)[1]) is not None

    typed = subprocess.run(
        [sys.executable, "-m", "mailer", "editors", "add", "bo@example.org", "--password-stdin"],
        env=env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert typed.returncode == 0, typed.stderr
    assert "set-password" not in typed.stdout
    assert await editors.authenticate(pool, email="bo@example.org", password=PASSWORD, ip="x")

    weak = subprocess.run(
        [sys.executable, "-m", "mailer", "editors", "add", "cy@example.org", "--password-stdin"],
        env=env, input="short\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert weak.returncode == 1
    assert "Traceback" not in weak.stderr

    again = run_mailer(["editors", "add", "ana@example.org"], env)
    assert again.returncode == 1
    assert "exists already" in again.stderr

    listed = run_mailer(["editors", "list"], env)
    assert "ana@example.org" in listed.stdout.casefold()
    assert "no password yet" in listed.stdout
    assert "admin" in listed.stdout

    assert run_mailer(["editors", "disable", "bo@example.org"], env).returncode == 0
    assert "disabled" in run_mailer(["editors", "list"], env).stdout
    assert run_mailer(["editors", "reset-password", "bo@example.org"], env).returncode == 1
    assert run_mailer(["editors", "enable", "bo@example.org"], env).returncode == 0
    reset = run_mailer(["editors", "reset-password", "bo@example.org"], env)
    assert reset.returncode == 0
    assert "/console/set-password/" in reset.stdout
    assert run_mailer(["editors", "disable", "nobody@example.org"], env).returncode == 1


async def test_series_remove(tmp_path: Path, db_url: str, pool: asyncpg.Pool) -> None:
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url)
    added = run_mailer(["series", "add", "Daily", "--cron", "0 7 * * *", "--timezone", "UTC"], env)
    assert added.returncode == 0, added.stderr
    series_id = await pool.fetchval("SELECT series_id FROM series")
    await pool.execute(
        "INSERT INTO mailings (kind, subject, list_id, series_id, status) "
        "VALUES ('digest', 'Next', 'x', $1, 'scheduled')",
        series_id,
    )
    refused = run_mailer(["series", "remove", str(series_id)], env)
    assert refused.returncode == 1
    assert "1 unfinished digest" in refused.stderr
    await pool.execute("UPDATE mailings SET status = 'cancelled'")
    removed = run_mailer(["series", "remove", str(series_id)], env)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == f"removed series {series_id}"
    assert await pool.fetchval("SELECT count(*) FROM series") == 0
