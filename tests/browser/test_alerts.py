"""Alerts and corrections as a reader meets them, in a real browser against a real
`mailer serve`: an alert arrives in the development outbox, its "Stop urgent alerts" link
works, the preference page turns alerts back on, and the archive shows a correction."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Page, expect

from mailer.audience.topics import create_topic
from mailer.config import load_settings
from mailer.editorial import alerts, corrections
from tests.browser.support import RunningService, Screenshot
from tests.support.newsroom import add_item, add_reader, mark_sent

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

EMAIL = "alma.alert@example.org"
EDITOR = "browser test"


async def mail_text(page: Page, base_url: str, subject: str) -> str:
    deadline = time.monotonic() + 15
    while True:
        listing = await (await page.request.get(f"{base_url}/dev/outbox.json")).json()
        found = [m["key"] for m in listing["messages"]
                 if EMAIL in m["recipients"] and m["subject"].startswith(subject)]  # fmt: skip
        if found:
            return await (await page.request.get(f"{base_url}/dev/outbox/{found[0]}/text")).text()
        assert time.monotonic() < deadline, f"no mail {subject!r} in the outbox"
        await asyncio.sleep(0.1)


async def test_an_alert_its_stop_link_the_preference_page_and_a_correction(
    service: RunningService, page: Page, screenshot: Screenshot, db: asyncpg.Pool
) -> None:
    topic = await create_topic(db, name="Overdose Prevention")
    reader = await add_reader(db, EMAIL, [topic.topic_id], alerts=True, name="Alma")
    item = await add_item(db, "Contaminated supply in the north", [topic.topic_id])
    # The service's own settings (its data dir holds the generated secret key).
    settings = replace(
        load_settings({"MAILER_DATA_DIR": str(service.data_dir)}, dotenv=False),
        base_url=service.base_url,
        secret_key=(Path(service.data_dir) / "secret_key").read_text().strip(),
    )
    draft = await alerts.create(db, settings, item, requested_by=EDITOR)
    await alerts.confirm(db, settings, draft.notice_id, confirmed=1, confirmed_by=EDITOR)
    text = await mail_text(page, service.base_url, "[Alert] Contaminated supply")
    stop = re.search(r"^Stop urgent alerts \(you keep your digests\): (\S+)\s*$", text, re.M)
    assert stop, text

    await page.goto(stop.group(1))
    await expect(page.get_by_role("heading", level=1, name="Stop urgent alerts")).to_be_visible()
    await screenshot("alerts-stop")
    assert await db.fetchval("SELECT accepts_alerts FROM subscribers WHERE subscriber_id = $1",
                             reader)  # fmt: skip
    await page.get_by_role("button", name="Stop urgent alerts").click()
    await expect(page.get_by_role("heading", level=1, name="Alerts stopped")).to_be_visible()
    row = await db.fetchrow(
        "SELECT status, accepts_alerts FROM subscribers WHERE subscriber_id = $1", reader
    )
    assert row is not None and row["status"] == "active" and not row["accepts_alerts"]

    await page.get_by_role("link", name="Turn alerts on again in your preferences").click()
    alerts_box = page.get_by_role("checkbox", name=re.compile("Send me urgent public-health"))
    await expect(alerts_box).not_to_be_checked()
    await alerts_box.check()
    await page.get_by_role("button", name="Save my preferences").click()
    await expect(page.get_by_role("status")).to_contain_text("You will receive urgent alerts")
    await expect(alerts_box).to_be_checked()
    await screenshot("preferences-alerts")
    assert await db.fetchval("SELECT accepts_alerts FROM subscribers WHERE subscriber_id = $1",
                             reader)  # fmt: skip

    # A correction: the alert's web version says so, with the date.
    await mark_sent(db, draft.notice_id)
    await corrections.correct(
        db, settings, item,
        corrections.Change("It was the south, not the north.",
                           title="Contaminated supply in the south"),
        requested_by=EDITOR,
    )  # fmt: skip
    slug = await db.fetchval("SELECT slug FROM mailings WHERE mailing_id = $1", draft.notice_id)
    await page.goto(f"{service.base_url}/archive/{slug}")
    box = page.get_by_role("region", name="Correction")
    await expect(box).to_contain_text("It was the south, not the north.")
    await expect(box).to_contain_text(re.compile(r"Corrected on \d\d \w+ \d{4}"))
    await screenshot("archive-correction")
    await box.get_by_role("link", name="Contaminated supply in the north").click()
    await expect(
        page.get_by_role("heading", level=1, name="Contaminated supply in the south")
    ).to_be_visible()
    await screenshot("item-corrected")
