"""The clicks pages in Chromium: an editor finds a digest's most-read story from the menu,
goes on to that story's figures across mailings; axe-core finds nothing serious on the way."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from tests.browser.support import DESKTOP, PHONE, RunningService
from tests.browser.test_accessibility import AXE, axe_problems
from tests.browser.test_console import sign_in
from tests.support.clicks import clicked_digest
from tests.support.console import add_editor

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_an_editor_finds_what_readers_read(
    service: RunningService, browser: Browser, db: asyncpg.Pool
) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make axe-deps` (npm install axe-core@4)")
    ids = await clicked_digest(db)
    await add_editor(db)
    base = service.base_url
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await sign_in(page, base, "ana@example.org")
        await page.wait_for_url(f"{base}/console/")
        await page.get_by_role("link", name="Clicks", exact=True).click()
        await expect(page.get_by_role("heading", name="Clicks", exact=True)).to_be_visible()
        problems = [f"index: {p}" for p in await axe_problems(page)]
        await page.get_by_role("link", name="Weekly news").click()
        await page.wait_for_url(f"{base}/console/clicks/mailings/{ids['digest']}")
        items = page.get_by_role("region", name="Items, most clicked first")
        first_row = items.get_by_role("row").nth(1)
        await expect(first_row).to_contain_text("Naloxone")
        await expect(first_row).to_contain_text("8")
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(viewport)
            problems += [f"digest {size}: {p}" for p in await axe_problems(page)]
        await page.set_viewport_size(DESKTOP)
        await items.get_by_role("link", name="Naloxone").click()
        await page.wait_for_url(f"{base}/console/clicks/items/{ids['naloxone']}")
        await expect(page.get_by_role("cell", name="[Alert] Naloxone")).to_be_visible()
        problems += [f"item: {p}" for p in await axe_problems(page)]
        assert problems == []
    finally:
        await context.close()
