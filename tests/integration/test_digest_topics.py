"""An item of two topics stands under a heading of a topic its reader chose, and once for
a reader who chose both: through the fan-out, the worker and SMTP, and in the preview."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import asyncpg

from mailer.delivery.render import compile_part
from mailer.editorial import digests
from tests.support.factories import engine_settings, running_worker, wait_until
from tests.support.newsroom import add_item, add_reader, make_series, make_topics
from tests.support.smtp_sink import SmtpSink

BOTH = "Naloxone training for school drivers"  # Overdose Prevention and Road Safety


def _part(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def _sections(text: str) -> dict[str, list[str]]:
    """Heading -> the item titles under it, from the plain-text part."""
    out: dict[str, list[str]] = {}
    heading = None
    for line in text.splitlines():
        found = re.fullmatch(r"== (.+) ==", line.strip())
        if found:
            heading = found.group(1)
            out[heading] = []
        elif heading is not None and line.startswith("* "):
            out[heading].append(line[2:].strip())
    return out


async def test_an_item_of_two_topics_stands_under_a_chosen_heading_once(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    topics = await make_topics(pool)
    overdose, road = topics["overdose-prevention"], topics["road-safety"]
    series_id = await make_series(pool)
    await add_item(pool, "Overdose deaths fall", [overdose], hours_ago=1)
    await add_item(pool, BOTH, [overdose, road], hours_ago=2)
    await add_item(pool, "Speed cameras near schools", [road], hours_ago=3)
    await add_reader(pool, "road@example.org", [road], series_id=series_id)
    await add_reader(pool, "both@example.org", [overdose, road], series_id=series_id)
    await add_reader(pool, "overdose@example.org", [overdose], series_id=series_id)
    settings = engine_settings(tmp_path)
    mailing_id = await digests.create_digest(pool, settings, series_id, now=datetime.now(UTC))
    assert mailing_id is not None

    # The preview as the reader of road safety only: the item under Road Safety, alone.
    shown = await digests.preview(pool, settings, mailing_id, subscriber="road@example.org")
    assert _sections(shown["text"]) == {"ROAD SAFETY": [BOTH, "Speed cameras near schools"]}, shown[
        "text"
    ]
    assert shown["items"] == 2

    assert await digests.start(pool, settings, mailing_id) == 3
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(3)
        await wait_until(
            lambda: pool.fetchval(
                "SELECT status = 'sent' FROM mailings WHERE mailing_id = $1", mailing_id
            )
        )
    mails = {m.rcpt_tos[0]: m.message for m in smtp_sink.received}
    text = {k: _part(m, "plain") for k, m in mails.items()}
    html = {k: _part(m, "html") for k, m in mails.items()}

    # Road safety only: the shared item under its heading, no overdose heading at all.
    assert _sections(text["road@example.org"]) == {
        "ROAD SAFETY": [BOTH, "Speed cameras near schools"]
    }
    assert "Overdose Prevention</h2>" not in html["road@example.org"]  # no heading
    assert html["road@example.org"].count(f">{BOTH}</a>") == 1
    # Both topics: the item once, under the first heading of the mail (Overdose Prevention).
    assert _sections(text["both@example.org"]) == {
        "OVERDOSE PREVENTION": ["Overdose deaths fall", BOTH],
        "ROAD SAFETY": ["Speed cameras near schools"],
    }
    assert html["both@example.org"].count(f">{BOTH}</a>") == 1
    # Overdose only: under Overdose Prevention, and no road safety heading.
    assert _sections(text["overdose@example.org"]) == {
        "OVERDOSE PREVENTION": ["Overdose deaths fall", BOTH]
    }
    assert "Road Safety</h2>" not in html["overdose@example.org"]

    # The archive (everyone's copy) shows it once, under its first heading.
    archive = await digests.preview(pool, settings, mailing_id)
    assert archive["text"].count(f"* {BOTH}") == 1
    assert archive["items"] == 3


def test_a_placed_item_follows_the_readers_topics() -> None:
    """The marker alone: item 5 under topics 1 and 2 (in that order), as the templates
    write it; unknown topics (an old delivery) fall back to the first heading."""
    rendered = (
        "\ue000if:5/1/1.2\ue001\nunder one\n\ue000end\ue001\n"
        "\ue000if:5/2/1.2\ue001\nunder two\n\ue000end\ue001\n"
    )
    part = compile_part(rendered, escape=False)

    def seen(topic_ids: frozenset[int] | None) -> list[str]:
        text = part.encode({}, frozenset({5}), topic_ids).decode()
        return [w for w in ("under one", "under two") if w in text]

    assert seen(frozenset({2})) == ["under two"]
    assert seen(frozenset({1, 2})) == ["under one"]
    assert seen(frozenset({1})) == ["under one"]
    assert seen(None) == ["under one"]
    assert part.encode({}, frozenset({6}), frozenset({2})).decode().strip() == ""
