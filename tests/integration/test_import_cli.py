"""`mailer subscribers import|export` as real processes: the report, the rejects file, and
an import killed halfway that converges when it is run again."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from mailer.audience.topics import create_topic
from mailer.db import open_pool
from tests.support.factories import SECRET
from tests.support.process import mailer_env, run_mailer

SNAPSHOT = (
    "SELECT email, name, status, created_at, confirmed_at,"
    " ARRAY(SELECT t.slug FROM subscriber_topics x JOIN topics t USING (topic_id)"
    " WHERE x.subscriber_id = s.subscriber_id ORDER BY 1) AS topics,"
    " (SELECT count(*) FROM consent_events c WHERE c.subscriber_id = s.subscriber_id) AS ledger,"
    " (SELECT count(*) FROM events e WHERE e.subject = 'subscriber'"
    " AND e.subject_id = s.subscriber_id) AS events"
    " FROM subscribers s ORDER BY email_key"
)


def env_for(tmp_path: Path, db_url: str) -> dict[str, str]:
    return mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_SECRET_KEY=SECRET)


def big_file(path: Path, rows: int) -> Path:
    with path.open("w") as handle:
        handle.write("Email Address,First Name,CONFIRM_TIME,TAGS\n")
        for i in range(rows):
            topic = "Overdose Prevention" if i % 2 else "Tobacco Control"
            handle.write(
                f"reader{i}@example.org,Reader {i},2025-0{1 + i % 9}-01 10:00:00,{topic}\n"
            )
    return path


async def test_cli_reports_and_writes_rejects_next_to_the_file(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path
) -> None:
    await create_topic(pool, name="Overdose Prevention")
    data = tmp_path / "list.csv"
    data.write_text("email;name;topics\na@example.org;A;overdose-prevention\nbroken;B;\n")
    env = env_for(tmp_path, db_url)
    args = ["subscribers", "import", str(data), "--consented", "--source", "Old list"]

    dry = run_mailer([*args, "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Dry run (nothing was changed): 2 rows")
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 0

    result = run_mailer(args, env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Import 1: 2 rows")
    assert lines[1].split() == ["created", "1", "active", "1"]
    assert lines[4].split()[:4] == ["skipped", "1", "invalid_address", "1"]
    rejects = tmp_path / "list.rejects.csv"
    assert f"rows not imported, with the reason: {rejects}" in result.stdout
    assert rejects.read_text().splitlines()[0] == "email;name;topics;reason;line"
    assert "100.0%" in result.stderr and "rows" in result.stderr  # the progress line

    again = run_mailer([*args, "--json"], env)
    report = json.loads(again.stdout)
    assert report["unchanged"] == 1 and report["skipped"] == 1
    assert report["rejects_file"] == str(rejects)


async def test_cli_refusals_are_one_clear_line(db_url: str, tmp_path: Path) -> None:
    env = env_for(tmp_path, db_url)
    data = tmp_path / "list.csv"
    data.write_text("email\na@example.org\n")
    cases = [
        (["--consented"], "source"),
        (["--opt-in", "--topics", "astrology"], "unknown topics"),
        (["--opt-in", "--column", "email"], "--column takes FIELD=HEADER"),
        (["--opt-in", "--delimiter", "ab"], "invalid delimiter"),
        (["--opt-in", "--rejects", "/nonexistent/folder/r.csv"], "cannot write the rejects"),
    ]
    for extra, fragment in cases:
        result = run_mailer(["subscribers", "import", str(data), *extra], env)
        assert result.returncode == 1, (extra, result.stderr)
        assert "Traceback" not in result.stderr
        assert fragment in result.stderr, (extra, result.stderr)
    missing = run_mailer(["subscribers", "import", str(tmp_path / "nope.csv"), "--opt-in"], env)
    assert missing.returncode == 1 and "no file" in missing.stderr
    both = run_mailer(["subscribers", "import", str(data), "--opt-in", "--consented"], env)
    assert both.returncode == 2 and "not allowed with" in both.stderr


async def test_cli_export(pool: asyncpg.Pool, db_url: str, tmp_path: Path) -> None:
    env = env_for(tmp_path, db_url)
    data = tmp_path / "list.csv"
    data.write_text("email,name,status\na@example.org,A,active\nb@example.org,B,unsubscribed\n")
    imported = run_mailer(["subscribers", "import", str(data), "--consented", "--source", "x"], env)
    assert imported.returncode == 0
    out = tmp_path / "active.jsonl"
    export = ["subscribers", "export", "--format", "jsonl", "--status", "active"]
    result = run_mailer([*export, "--output", str(out)], env)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["email"] for line in out.read_text().splitlines()] == ["a@example.org"]
    to_stdout = run_mailer(["subscribers", "export"], env)
    assert to_stdout.stdout.lstrip("\ufeff").splitlines()[0].startswith("subscriber_id,email,name")
    assert len(to_stdout.stdout.splitlines()) == 3
    bad = run_mailer(["subscribers", "export", "--topic", "nope"], env)
    assert bad.returncode == 1 and "invalid filter" in bad.stderr
    for nowhere, reason in ((tmp_path / "no" / "x.csv", "no such file"), (tmp_path, "directory")):
        refused = run_mailer(["subscribers", "export", "--output", str(nowhere)], env)
        assert refused.returncode == 1
        assert "Traceback" not in refused.stderr
        assert refused.stderr.startswith(f"mailer: cannot write '{nowhere}' (output: "), refused
        assert reason in refused.stderr


async def _snapshot(url: str) -> list[dict[str, Any]]:
    pool = await open_pool(url, max_size=2)
    try:
        return [dict(r) for r in await pool.fetch(SNAPSHOT)]
    finally:
        await pool.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_a_killed_import_leaves_whole_chunks_and_converges(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path, pg_server: Any
) -> None:
    for name in ("Overdose Prevention", "Tobacco Control"):
        await create_topic(pool, name=name)
    total, chunk = 20_000, 1_000
    data = big_file(tmp_path / "big.csv", total)
    env = env_for(tmp_path, db_url)
    args = [sys.executable, "-m", "mailer", "subscribers", "import", str(data), "--consented",
            "--source", "Old list", "--chunk-size", str(chunk), "--jobs", "0"]  # fmt: skip
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            done = await pool.fetchval("SELECT count(*) FROM subscribers")
            if done >= 3 * chunk:
                break
            assert process.poll() is None, "the import ended before it could be killed"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    committed = await pool.fetchval("SELECT count(*) FROM subscribers")
    assert 0 < committed < total, "kill it while it is importing"
    assert committed % chunk == 0  # whole chunks only
    # Everything a chunk causes came with it: topics, a ledger entry and an event each.
    partial = await pool.fetch(SNAPSHOT)
    assert all(r["topics"] and r["ledger"] == 1 and r["events"] == 1 for r in partial)
    record = await pool.fetchrow("SELECT status, rows_read FROM subscriber_imports")
    assert record is not None and record["status"] == "running"  # as it was when killed
    assert record["rows_read"] == committed

    again = run_mailer(
        ["subscribers", "import", str(data), "--consented", "--source", "Old list", "--json",
         "--chunk-size", str(chunk)], env, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["created"], report["unchanged"], report["skipped"]) == (
        total - committed,
        committed,
        0,
    )

    fresh_url = await pg_server.clone()
    try:
        fresh = await open_pool(fresh_url, max_size=2)
        for name in ("Overdose Prevention", "Tobacco Control"):
            await create_topic(fresh, name=name)
        await fresh.close()
        once = run_mailer(
            ["subscribers", "import", str(data), "--consented", "--source", "Old list",
             "--chunk-size", "7000"], env_for(tmp_path, fresh_url), timeout=300,
        )  # fmt: skip
        assert once.returncode == 0, once.stderr
        assert [dict(r) for r in await pool.fetch(SNAPSHOT)] == await _snapshot(fresh_url)
    finally:
        await pg_server.drop(fresh_url)
