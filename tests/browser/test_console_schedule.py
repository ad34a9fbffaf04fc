"""The composer's schedule picker in a browser far from UTC: the suggested (or already
scheduled) moment moves with the browser's zone instead of keeping its wall-clock time, and a
refused schedule or test send shows again what the editor typed, with a message that says
which field is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from mailer.editorial import digests
from tests.browser.support import DESKTOP, RunningService
from tests.browser.test_console import sign_in
from tests.support.console import add_editor, newsroom
from tests.support.factories import engine_settings

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ZONE = "Asia/Tokyo"  # UTC+9 all year: the same wall-clock time in UTC is 9 hours off


@pytest_asyncio.fixture(loop_scope="session")
async def tokyo_page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id=ZONE)
    context.set_default_timeout(5_000)
    page = await context.new_page()
    yield page
    await context.close()


async def _draft(db: asyncpg.Pool, service: RunningService) -> int:
    data = await newsroom(db)
    settings = engine_settings(service.data_dir)
    mailing_id = await digests.create_digest(db, settings, data["series_id"], now=datetime.now(UTC))
    assert mailing_id is not None
    return mailing_id


async def test_the_suggested_time_moves_to_the_browsers_zone(
    service: RunningService, tokyo_page: Page, db: asyncpg.Pool
) -> None:
    page = tokyo_page
    mailing_id = await _draft(db, service)
    await add_editor(db, "ana@example.org")  # no zone chosen yet: the browser's is used
    await sign_in(page, service.base_url, "ana@example.org")
    await page.goto(f"{service.base_url}/console/digests/{mailing_id}")

    await expect(page.get_by_label("Time zone")).to_have_value(ZONE)
    await expect(page.locator("#zone-shown")).to_have_text(ZONE)
    picker = page.get_by_label("Date and time")
    suggested = datetime.fromisoformat(str(await picker.get_attribute("data-utc")))
    assert timedelta(0) < suggested - datetime.now(UTC) <= timedelta(hours=1)  # the next hour
    local = suggested.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")
    assert (await picker.input_value()).startswith(local)

    # Accepting the suggestion schedules that moment (not one 9 hours earlier, in the past).
    await page.get_by_role("button", name="Schedule", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="Scheduled.")).to_be_visible()
    scheduled = await db.fetchval(
        "SELECT scheduled_at FROM mailings WHERE mailing_id = $1", mailing_id
    )
    assert scheduled == suggested


async def test_a_digest_scheduled_elsewhere_keeps_its_moment(
    service: RunningService, tokyo_page: Page, db: asyncpg.Pool
) -> None:
    """Scheduled by the CLI or the API (the editor has no zone yet): the picker shows that
    moment in the browser's zone, so pressing Reschedule does not move it."""
    page = tokyo_page
    mailing_id = await _draft(db, service)
    settings = engine_settings(service.data_dir)
    at = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    await digests.schedule(db, settings, mailing_id, at, now=datetime.now(UTC))
    await add_editor(db, "ana@example.org")
    await sign_in(page, service.base_url, "ana@example.org")
    await page.goto(f"{service.base_url}/console/digests/{mailing_id}")

    await expect(page.get_by_label("Time zone")).to_have_value(ZONE)
    assert (await page.get_by_label("Date and time").input_value()).startswith(
        at.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")
    )
    await page.get_by_role("button", name="Reschedule").click()
    await expect(page.get_by_role("status").filter(has_text="Scheduled.")).to_be_visible()
    assert (
        await db.fetchval("SELECT scheduled_at FROM mailings WHERE mailing_id = $1", mailing_id)
        == at
    )


async def test_refusals_keep_what_was_typed(
    service: RunningService, tokyo_page: Page, db: asyncpg.Pool
) -> None:
    page = tokyo_page
    mailing_id = await _draft(db, service)
    await add_editor(db, "ana@example.org")
    await sign_in(page, service.base_url, "ana@example.org")
    await page.goto(f"{service.base_url}/console/digests/{mailing_id}")

    await page.get_by_label("Time zone").select_option("America/New_York")
    await page.get_by_label("Date and time").fill("2020-03-04T05:06")
    await page.get_by_role("button", name="Schedule", exact=True).click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Date and time: is in the past")
    await expect(page.get_by_label("Date and time")).to_have_value("2020-03-04T05:06")
    await expect(page.get_by_label("Time zone")).to_have_value("America/New_York")

    await page.get_by_label("Addresses").fill("bo@example.org, not-an-address")
    await page.get_by_role("button", name="Send a test").click()
    await expect(page.get_by_role("alert")).to_contain_text("Test addresses:")
    await expect(page.get_by_label("Addresses")).to_have_value("bo@example.org, not-an-address")
