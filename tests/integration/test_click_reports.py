"""Click figures as editors and integrators get them: the API (JSON and CSV), the console
pages, differential-privacy noise when an epsilon is set, and the daily webhook event."""

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.feedback import click_reports
from mailer.web.app import create_app
from tests.support.clicks import TODAY, clicked_digest
from tests.support.console import add_editor, console_app, signed_in
from tests.support.factories import engine_settings
from tests.support.helpers import ClientFactory
from tests.support.newsroom import editor_headers

Client = TestClient[web.Request, web.Application]


async def test_the_api_ranks_items_and_sums_topics_days_and_mailings(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    ids = await clicked_digest(pool)
    client: Client = await aiohttp_client(create_app(engine_settings(tmp_path), pool))
    headers = await editor_headers(pool)
    assert (await client.get("/api/v1/clicks")).status == 401
    listing = await (await client.get("/api/v1/clicks", headers=headers)).json()
    assert [(m["mailing_id"], m["clicks"], m["filtered"]) for m in listing["mailings"]] == [
        (ids["alert"], 12, 3), (ids["digest"], 14, 7),
    ]  # fmt: skip
    assert listing["noise"] is None

    report = await (
        await client.get(f"/api/v1/clicks/mailings/{ids['digest']}", headers=headers)
    ).json()
    assert [(i["title"], i["clicks"]) for i in report["items"]] == [
        ("Naloxone", 8), ("=Smoke-free parks", 6), ("Test strips", 0),
    ]  # fmt: skip
    assert {t["topic"]: t["clicks"] for t in report["topics"]} == {
        "Overdose Prevention": 8, "Tobacco Control": 6,
    }  # fmt: skip
    assert [(d["day"], d["clicks"], d["filtered"]) for d in report["days"]] == [
        ((TODAY - timedelta(days=1)).isoformat(), 5, 2), (TODAY.isoformat(), 9, 5),
    ]  # fmt: skip
    assert report["total"] == {"clicks": 14, "filtered": 7}

    item = await (
        await client.get(f"/api/v1/clicks/items/{ids['naloxone']}", headers=headers)
    ).json()
    assert {m["kind"]: m["clicks"] for m in item["mailings"]} == {"digest": 8, "alert": 12}
    assert item["total"] == {"clicks": 20, "filtered": 5}

    csv = await client.get(f"/api/v1/clicks/mailings/{ids['digest']}/export", headers=headers)
    assert csv.status == 200 and csv.content_type == "text/csv"
    lines = (await csv.text()).lstrip("\ufeff").splitlines()
    assert lines[0] == "day,mailing_id,kind,item_id,title,link,clicks,filtered"
    assert len(lines) == 5 and any(",'=Smoke-free parks," in line for line in lines)
    for path in ("/api/v1/clicks/mailings/999999", "/api/v1/clicks/items/999999",
                 "/api/v1/clicks/items/999999/export"):  # fmt: skip
        assert (await client.get(path, headers=headers)).status == 404
    assert (await client.get("/api/v1/clicks/mailings/x", headers=headers)).status == 400


async def test_with_an_epsilon_figures_are_noisy_stable_and_stored_counts_exact(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    ids = await clicked_digest(pool)
    base = engine_settings(tmp_path)
    settings = replace(base, clicks=replace(base.clicks, epsilon=0.5))
    client: Client = await aiohttp_client(create_app(settings, pool))
    headers = await editor_headers(pool)
    path = f"/api/v1/clicks/mailings/{ids['digest']}"
    first = await (await client.get(path, headers=headers)).json()
    again = await (await client.get(path, headers=headers)).json()
    assert first == again  # asking again cannot average the noise away
    assert first["noise"]["epsilon"] == 0.5
    published = [i["clicks"] for i in first["items"]] + [d["clicks"] for d in first["days"]]
    assert published != [8, 6, 0, 5, 9] and all(n >= 0 for n in published)
    exact = await pool.fetchval("SELECT sum(clicks) FROM click_counts")
    assert exact == 26  # stored counts untouched


async def test_the_daily_event_goes_out_once_with_the_days_totals(pool: asyncpg.Pool) -> None:
    ids = await clicked_digest(pool)
    publisher = click_reports.Publisher("secret", None)
    assert await click_reports.report_yesterday(pool, publisher, TODAY + timedelta(days=1))
    assert not await click_reports.report_day(pool, publisher, TODAY)  # once
    events = await pool.fetch(
        "SELECT type, subject, payload FROM events WHERE type = 'clicks.daily'"
    )
    assert len(events) == 1
    payload = events[0]["payload"]
    assert payload["day"] == TODAY.isoformat() and payload["clicks"] == 21
    assert {m["mailing_id"]: m["clicks"] for m in payload["mailings"]} == {
        ids["digest"]: 9, ids["alert"]: 12,
    }  # fmt: skip
    assert await click_reports.report_day(pool, publisher, date(2020, 1, 1))  # a quiet day
    quiet = await pool.fetchval(
        "SELECT payload FROM events WHERE type = 'clicks.daily' ORDER BY event_id DESC LIMIT 1"
    )
    assert quiet["clicks"] == 0 and quiet["mailings"] == []


async def test_console_pages_show_the_ranking_and_download_csv(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    ids = await clicked_digest(pool)
    await add_editor(pool)
    client: Client = await aiohttp_client(console_app(pool, tmp_path))
    assert (await client.get("/console/clicks", allow_redirects=False)).status in (302, 303)
    await signed_in(client)
    index = await (await client.get("/console/clicks")).text()
    assert "Weekly news" in index and f"/console/clicks/mailings/{ids['digest']}" in index
    page = await (await client.get(f"/console/clicks/mailings/{ids['digest']}")).text()
    assert page.index("Naloxone") < page.index("=Smoke-free parks") < page.index("Test strips")
    assert "Overdose Prevention" in page and "Clicks per day" in page
    item = await (await client.get(f"/console/clicks/items/{ids['naloxone']}")).text()
    assert "[Alert] Naloxone" in item and "Weekly news" in item
    csv = await client.get(f"/console/clicks/items/{ids['naloxone']}/export.csv")
    assert csv.status == 200 and "Naloxone" in await csv.text()
    assert (await client.get("/console/clicks/mailings/999999")).status == 404
