"""The CMS's `urgent` flag and `correction` note on the content webhook: what each setting
allows, the rate limit, and refusals that store nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from mailer.config import NoticeMode, Settings
from mailer.editorial import digests
from mailer.web.app import create_app
from tests.support.factories import engine_settings
from tests.support.helpers import ClientFactory
from tests.support.newsroom import (
    WEBHOOK_SECRET,
    Client,
    add_reader,
    counts,
    make_series,
    make_topics,
    mark_sent,
    push,
)

PUBLISHED = "2026-11-20T10:00:00Z"


def item(cms_id: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"id": cms_id, "title": title, "url": f"https://health.example.org/{cms_id}",
            "summary_html": f"<p>{title}.</p>", "published": PUBLISHED,
            "topics": ["overdose-prevention"], **extra}  # fmt: skip


@pytest.fixture
async def topics(pool: asyncpg.Pool) -> dict[str, int]:
    made = await make_topics(pool)
    await add_reader(pool, "ana@example.org", [made["overdose-prevention"]], alerts=True)
    await add_reader(pool, "ben@example.org", [made["overdose-prevention"]], alerts=True)
    return made


async def cms_client(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory, **changes: Any
) -> Client:
    settings: Settings = replace(
        engine_settings(tmp_path), webhook_secrets=(WEBHOOK_SECRET,), **changes
    )
    return await aiohttp_client(create_app(settings, pool))


async def test_urgent_pushes_are_refused_when_cms_alerts_are_off(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory, topics: dict[str, int]
) -> None:
    client = await cms_client(pool, tmp_path, aiohttp_client)
    before = await counts(pool)
    response = await push(client, item("cms-1", "Warning", urgent=True))
    assert response.status == 403
    assert "MAILER_CMS_ALERTS=off" in (await response.json())["error"]["message"]
    assert await counts(pool) == before
    plain = await push(client, item("cms-1", "Warning", urgent=False))
    assert plain.status == 202


async def test_urgent_pushes_draft_an_alert_for_an_editor(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory, topics: dict[str, int]
) -> None:
    client = await cms_client(pool, tmp_path, aiohttp_client, cms_alerts=NoticeMode.DRAFT)
    response = await push(client, item("cms-1", "Contaminated supply", urgent=True))
    assert response.status == 202, await response.text()
    (alert,) = (await response.json())["alerts"]
    assert alert["status"] == "draft" and alert["recipients"] == 2
    assert f"/api/v1/alerts/{alert['alert_id']}/send" in alert["message"]
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
    # The CMS saves the item again: the same draft, no second alert.
    again = await push(client, item("cms-1", "Contaminated supply (update)", urgent=True))
    assert (await again.json())["alerts"][0]["alert_id"] == alert["alert_id"]
    assert await pool.fetchval("SELECT count(*) FROM alerts") == 1
    assert (
        await pool.fetchval("SELECT origin FROM alerts WHERE mailing_id = $1", alert["alert_id"])
        == "cms"
    )


async def test_urgent_pushes_send_at_once_when_allowed_and_are_never_repeated(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory, topics: dict[str, int]
) -> None:
    client = await cms_client(pool, tmp_path, aiohttp_client, cms_alerts=NoticeMode.SEND)
    response = await push(client, item("cms-1", "Contaminated supply", urgent=True))
    (alert,) = (await response.json())["alerts"]
    assert alert["status"] == "sending" and alert["recipients"] == 2
    rows = await pool.fetch("SELECT kind, status FROM deliveries")
    assert [(r["kind"], r["status"]) for r in rows] == [("alert", "queued")] * 2
    again = await push(client, item("cms-1", "Contaminated supply", urgent=True))
    assert (await again.json())["alerts"][0]["status"] == "sent_already"
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 2


async def test_an_alert_flood_from_the_cms_is_refused_with_429(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory, topics: dict[str, int]
) -> None:
    client = await cms_client(
        pool, tmp_path, aiohttp_client, cms_alerts=NoticeMode.DRAFT, cms_alerts_per_hour=2
    )
    for n in (1, 2):
        assert (await push(client, item(f"cms-{n}", f"Warning {n}", urgent=True))).status == 202
    before = await counts(pool)
    flood = await push(client, item("cms-3", "Warning 3", urgent=True))
    assert flood.status == 429
    assert 3000 < int(flood.headers["Retry-After"]) <= 3600
    assert "at most 2 an hour" in (await flood.json())["error"]["message"]
    assert await counts(pool) == before  # not even the item


async def test_bad_urgent_pushes_are_refused_whole(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory, topics: dict[str, int]
) -> None:
    client = await cms_client(pool, tmp_path, aiohttp_client, cms_alerts=NoticeMode.DRAFT)
    before = await counts(pool)
    cases = [
        ({"items": [item("a", "Fine"), item("b", "No topic", topics=[], urgent=True)]},
         "items[1].urgent", "has no topic"),
        ({"items": [item("a", "Odd", urgent="yes")]}, "items[0].urgent", "true or false"),
        ({"items": [item("a", "Odd", retracted=True)]}, "items[0].correction", "needs a note"),
        ({"items": [item("a", "Odd", urgent=True, correction="x")]}, "items[0].urgent",
         "cannot be an alert"),
    ]  # fmt: skip
    for payload, field, fragment in cases:
        response = await push(client, payload)
        assert response.status == 400, await response.text()
        assert fragment in (await response.json())["error"]["fields"][field]
    assert await counts(pool) == before
    nobody = await push(client, item("c", "Road news", topics=["road-safety"], urgent=True))
    assert nobody.status == 202
    assert (await nobody.json())["alerts"][0]["status"] == "nobody_to_alert"


async def test_cms_corrections(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory, topics: dict[str, int]
) -> None:
    client = await cms_client(pool, tmp_path, aiohttp_client)
    # A correction note on an item never mailed is only an update.
    first = await push(client, item("cms-1", "Overdoses fell 40%"))
    item_id = (await first.json())["items"][0]["item_id"]
    unsent = await push(client, item("cms-1", "Overdoses fell 14%", correction="Typo"))
    assert (await unsent.json())["corrections"][0]["status"] == "not_sent"
    assert await pool.fetchval("SELECT count(*) FROM corrections") == 0
    # Once it went out in a digest, the same kind of push records a correction.
    weekly = await make_series(pool)
    await pool.execute("INSERT INTO subscriber_series SELECT subscriber_id, $1 FROM subscribers",
                       weekly)  # fmt: skip
    settings = engine_settings(tmp_path)
    digest_id = await digests.create_digest(pool, settings, weekly, now=datetime.now(UTC))
    assert digest_id is not None
    await digests.edit_digest(pool, settings, digest_id, item_ids=[item_id])
    await digests.start(pool, settings, digest_id)
    await mark_sent(pool, digest_id)
    fixed = await push(
        client, item("cms-1", "Overdoses fell 12%", correction="The final figure is 12%.")
    )
    assert fixed.status == 202
    (entry,) = (await fixed.json())["corrections"]
    assert entry["status"] == "draft" and entry["recipients"] == 2
    row = await pool.fetchrow("SELECT * FROM corrections")
    assert row is not None
    assert (row["old_title"], row["new_title"]) == ("Overdoses fell 14%", "Overdoses fell 12%")
    assert row["origin"] == "cms"
    # The CMS saves again with the same note: not a second correction; a new one waits.
    note = "The final figure is 12%."
    same = await push(client, item("cms-1", "Overdoses fell 12%", correction=note))
    assert (await same.json())["corrections"][0]["status"] == "recorded_already"
    before = await counts(pool)
    other = await push(client, item("cms-1", "Overdoses fell 11%", correction="Another fix."))
    assert other.status == 409
    assert "awaits confirmation" in (await other.json())["error"]["message"]
    assert await counts(pool) == before
