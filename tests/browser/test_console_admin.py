"""The console's admin pages in Chromium against a real `mailer serve`: an admin adds a topic
(by keyboard), a feed source served from loopback and polls it, a series, an API key (which
then works on the API), invites an editor, finds a subscriber by a fragment of their address
and opens their consent ledger. Screenshots of each page at tablet and laptop widths."""

from __future__ import annotations

import re

import asyncpg
import pytest
from playwright.async_api import Page, expect

from mailer.audience.consent import Context, record_consent
from tests.browser.support import RunningService, save_screenshots
from tests.browser.test_console import sign_in, watch_dialogs
from tests.support.console import add_editor
from tests.support.console_admin import feed_server
from tests.support.factories import add_subscribers

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

WORDING = "Yes, send me Riverside Health news. I can unsubscribe at any time."


@pytest.fixture
def service_env() -> dict[str, str]:
    return {"MAILER_FEED_ALLOW_PRIVATE": "true"}  # the fixture feed is served on loopback


async def shot(page: Page, name: str) -> None:
    await save_screenshots(page, f"console-admin-{name}", ("tablet", "desktop"))


async def subscriber_with_history(db: asyncpg.Pool) -> int:
    await add_subscribers(db, 30)
    subscriber_id: int = await db.fetchval(
        "INSERT INTO subscribers (email, email_key, name, status, source, confirmed_at) "
        "VALUES ('Zoe.Martin@example.org', 'zoe.martin@example.org', 'Zoe Martin', 'active', "
        "'homepage', now()) RETURNING subscriber_id"
    )
    async with db.acquire() as conn:
        for action, wording in (("signup", WORDING), ("confirm", None)):
            await record_consent(
                conn, subscriber_id=subscriber_id, email="Zoe.Martin@example.org",
                action=action, context=Context(ip="203.0.113.9", user_agent="Firefox/140",
                                               source="https://health.example.org/join"),
                topics=["overdose-prevention"], consent_text=wording,
            )  # fmt: skip
    return subscriber_id


async def test_an_admin_sets_up_the_newsroom(
    service: RunningService, page: Page, db: asyncpg.Pool
) -> None:
    await add_editor(db, "root@example.org", role="admin", name="Root Admin")
    subscriber_id = await subscriber_with_history(db)
    dialogs = watch_dialogs(page)
    base = service.base_url
    await sign_in(page, base, "root@example.org")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # Topics: added with the keyboard alone; a duplicate is refused beside its field.
    await page.get_by_role("link", name="Topics", exact=True).click()
    name = page.get_by_label("Name", exact=True)
    await name.focus()
    await page.keyboard.type("Overdose Prevention")
    await page.keyboard.press("Tab")  # to the short name, left empty
    await page.keyboard.press("Tab")
    await page.keyboard.type("Naloxone, treatment and harm reduction.")
    await name.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Topic overdose-prevention added.")
    await expect(page.get_by_role("link", name="Overdose Prevention", exact=True)).to_be_visible()
    assert await db.fetchval("SELECT description FROM topics") == (
        "Naloxone, treatment and harm reduction."
    )
    await shot(page, "topics")
    await page.get_by_label("Name", exact=True).fill("Overdose prevention")
    await page.get_by_role("button", name="Add topic").click()
    await expect(page.locator("#f-name-error")).to_have_text(
        "A topic with the short name 'overdose-prevention' exists already: choose another "
        "name or short name."
    )
    await expect(page.get_by_label("Name", exact=True)).to_have_value("Overdose prevention")
    await expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    await shot(page, "topic-refused")

    # Feeds: a source on loopback, polled at once; its items arrive with the rule's topic.
    async with feed_server() as server:
        url = str(server.make_url("/rss2.xml"))
        await page.get_by_role("link", name="Feeds", exact=True).click()
        await page.get_by_label("Feed address").fill(url)
        await page.get_by_label("Name (optional)").fill("Riverside Health")
        await page.get_by_label("Poll every (minutes)").fill("60")
        await page.get_by_label("Category → topic rules (optional)").fill(
            "Opioids = overdose-prevention"
        )
        await page.get_by_role("button", name="Add feed source").click()
        await expect(page.get_by_role("status")).to_contain_text("Feed source added.")
        await page.get_by_role("button", name="Poll now: Riverside Health").click()
        row = page.locator("tr.just-polled")
        await expect(row).to_contain_text("HTTP 200")
        await expect(row.locator("span.status")).to_have_text("ok")
    stored = await db.fetchval("SELECT count(*) FROM items i JOIN feed_sources USING (source_id) "
                               "WHERE url = $1", url)  # fmt: skip
    assert stored > 0
    await expect(row.locator("td.num")).to_contain_text(str(stored))
    tagged = await db.fetchval(
        "SELECT count(*) FROM items i JOIN topics t ON t.topic_id = ANY(i.topic_ids)"
    )
    assert tagged >= 1
    await shot(page, "feeds")

    # Series: a Tuesday-morning digest in Berlin, its next runs in words.
    await page.get_by_role("link", name="Series", exact=True).click()
    await page.get_by_label("Name", exact=True).fill("Weekly news")
    await page.get_by_label("Time zone").fill("Europe/Berlin")
    await page.get_by_label("Schedule (cron)").fill("0 9 * * tue")
    await page.get_by_label("Default for new subscribers").check()
    await page.get_by_role("button", name="Add series").click()
    await expect(page.get_by_role("heading", name="Weekly news")).to_be_visible()
    await expect(page.get_by_role("status")).to_have_text("Series added.")
    runs = page.locator("ol.runs li")
    await expect(runs).to_have_count(3)
    for text in await runs.all_inner_texts():
        assert re.match(r"Tuesday \d+ \w+ \d{4}, 09:00 CES?T \(in \d+ (day|hour)", text), text
    await shot(page, "series")
    await page.get_by_role("link", name="← Series").click()
    await expect(page.get_by_role("link", name="Weekly news")).to_be_visible()

    # API keys: shown once, working on the API.
    await page.get_by_role("link", name="API keys", exact=True).click()
    await page.get_by_label("Name", exact=True).fill("CMS production")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_role("heading", name="API key created")).to_be_visible()
    key = await page.get_by_label("Key").input_value()
    assert key.startswith("mk_")
    await shot(page, "api-key-created")
    answer = await page.request.get(
        f"{base}/api/v1/topics", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status == 200
    assert [t["slug"] for t in (await answer.json())["topics"]] == ["overdose-prevention"]
    await page.get_by_role("link", name="Done").click()
    await expect(page.get_by_role("cell", name="CMS production", exact=True)).to_be_visible()
    assert key not in await page.content()
    await shot(page, "api-keys")

    # Editors: an invitation's one-time link.
    await page.get_by_role("link", name="Editors", exact=True).click()
    await page.get_by_label("Email address").fill("ana@example.org")
    await page.get_by_label("Name (optional)").fill("Ana Editor")
    await page.get_by_role("button", name="Invite").click()
    link = await page.get_by_label("Set-password link").input_value()
    assert link.startswith(f"{base}/console/set-password/")
    await page.get_by_role("link", name="Done").click()
    await expect(page.get_by_role("row", name=re.compile("Ana Editor"))).to_contain_text("invited")
    await shot(page, "editors")

    # Subscribers: found by a fragment of the address; the consent ledger with its wording.
    await page.get_by_role("link", name="Subscribers", exact=True).click()
    await shot(page, "subscribers")
    await page.get_by_label("Address contains").fill("ZOE.M")
    await page.get_by_role("button", name="Search").click()
    results = page.locator("tbody tr")
    await expect(results).to_have_count(1)
    await shot(page, "subscribers-found")
    await page.get_by_role("link", name="Zoe.Martin@example.org").click()
    assert page.url == f"{base}/console/subscribers/{subscriber_id}"
    await expect(page.get_by_role("heading", name="Consent ledger")).to_be_visible()
    ledger = page.locator("table", has=page.get_by_role("columnheader", name="Decision"))
    await expect(ledger.locator("tbody tr")).to_have_count(2)
    await expect(ledger.locator("tbody tr").nth(1)).to_contain_text("signup")
    await ledger.get_by_text("“Yes, send me Riverside").click()  # open the wording
    await expect(ledger.get_by_text(WORDING, exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="Export their data (JSON)")).to_be_visible()
    await shot(page, "subscriber")

    # The erase step asks for the address again before anything happens.
    await page.get_by_role("link", name="Erase…").click()
    await page.get_by_label("Type the address to confirm").fill("someone@example.org")
    await page.get_by_role("button", name="Erase all their data").click()
    await expect(page.locator("#f-confirm_email-error")).to_contain_text(
        "This is not the subscriber's address"
    )
    await shot(page, "erase-refused")
    assert await db.fetchval("SELECT count(*) FROM subscribers WHERE subscriber_id = $1",
                             subscriber_id) == 1  # fmt: skip
    assert not [d for d in dialogs if not d.startswith("confirm")], dialogs


async def test_an_admin_removes_a_series(
    service: RunningService, page: Page, db: asyncpg.Pool
) -> None:
    from datetime import UTC, datetime

    from mailer.editorial import series

    await add_editor(db, "root@example.org", role="admin", name="Root Admin")
    made = await series.create_series(
        db, name="Daily news", cron="0 7 * * *", timezone="UTC", now=datetime.now(UTC)
    )
    await sign_in(page, service.base_url, "root@example.org")
    await page.goto(f"{service.base_url}/console/series/{made['series_id']}")
    await page.get_by_role("link", name="Remove…").click()
    await expect(page.get_by_role("heading", name="Remove “Daily news”?")).to_be_visible()
    await page.get_by_role("button", name="Remove the series").click()
    await expect(page.get_by_role("status")).to_have_text("Series “Daily news” removed.")
    await expect(page.get_by_role("link", name="Daily news")).to_have_count(0)
    assert await db.fetchval("SELECT count(*) FROM series") == 0
