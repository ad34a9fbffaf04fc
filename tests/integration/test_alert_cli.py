"""`mailer alerts`, `mailer items` and `mailer corrections` as an editor types them: the
recipient count is asked for before anything goes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.support.factories import SECRET
from tests.support.newsroom import add_item, add_reader, make_topics, mark_sent
from tests.support.process import mailer_env


def mailer(
    tmp_path: Path, db_url: str, *args: str, answer: str = ""
) -> subprocess.CompletedProcess[str]:
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_SECRET_KEY=SECRET,
                     MAILER_BASE_URL="https://news.example.org")  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "mailer", *args],
        env=env,
        input=answer,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
async def item(pool: asyncpg.Pool) -> int:
    topics = await make_topics(pool)
    overdose = topics["overdose-prevention"]
    await add_reader(pool, "ana@example.org", [overdose], alerts=True)
    await add_reader(pool, "ben@example.org", [overdose], alerts=True)
    await add_reader(pool, "cy@example.org", [overdose])  # no alerts
    return await add_item(pool, "Contaminated supply", [overdose])


async def test_alerts_send_asks_with_the_count(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path, item: int
) -> None:
    refused = mailer(tmp_path, db_url, "alerts", "send", str(item), answer="n\n")
    assert refused.returncode == 1, refused.stderr
    assert "Send to 2 subscribers? [y/N]" in refused.stdout
    assert "Not sent. The draft was discarded." in refused.stdout
    assert await pool.fetchval("SELECT status FROM mailings") == "cancelled"
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0

    no_answer = mailer(tmp_path, db_url, "alerts", "send", str(item))  # end of input: no
    assert no_answer.returncode == 1
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0

    sent = mailer(tmp_path, db_url, "alerts", "send", str(item), answer="y\n")
    assert sent.returncode == 0, sent.stderr
    assert "is sending to 2 subscribers" in sent.stdout
    alert_id = await pool.fetchval("SELECT max(mailing_id) FROM alerts")
    assert (
        await pool.fetchval("SELECT count(*) FROM deliveries WHERE mailing_id = $1", alert_id) == 2
    )
    listed = mailer(tmp_path, db_url, "alerts", "list")
    assert "sending" in listed.stdout and "[Alert] Contaminated supply" in listed.stdout

    missing = mailer(tmp_path, db_url, "alerts", "send", "999999", "--yes")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "mailer: item 999999 does not exist"


async def test_items_correct_and_audit(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path, item: int
) -> None:
    never = mailer(tmp_path, db_url, "items", "correct", str(item), "--note", "Typo", "--yes")
    assert never.returncode == 1 and "was never sent" in never.stderr
    sent = mailer(tmp_path, db_url, "alerts", "send", str(item), "--yes")
    assert sent.returncode == 0, sent.stderr
    alert_id = await pool.fetchval("SELECT max(mailing_id) FROM alerts")
    await mark_sent(pool, alert_id)

    fixed = mailer(
        tmp_path, db_url, "items", "correct", str(item), "--note", "It was the south.",
        "--title", "Contaminated supply in the south", answer="n\n",
    )  # fmt: skip
    assert fixed.returncode == 1, fixed.stderr
    assert "Send the notice to the 2 people who received the item? [y/N]" in fixed.stdout
    assert "mailer corrections send 1" in fixed.stdout
    later = mailer(tmp_path, db_url, "corrections", "send", "1", answer="yes\n")
    assert later.returncode == 0, later.stderr
    assert "is sending to 2 people" in later.stdout

    audit = mailer(tmp_path, db_url, "items", "audit", str(item))
    assert audit.returncode == 0, audit.stderr
    assert f"Item {item}: Contaminated supply in the south" in audit.stdout
    assert "Received by 2 people (2 mails)" in audit.stdout
    assert f"alert   {alert_id:>6}  sent" in audit.stdout
    assert "Correction 1 on" in audit.stdout and "It was the south." in audit.stdout
    assert "notice sending, 0 of 2 sent" in audit.stdout
