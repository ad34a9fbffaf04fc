"""Searching the archive in Chromium: the search box on /archive, results, the page when
nothing matches, and axe-core finds no serious or critical violation on any of them."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from mailer.audience.topics import create_topic
from tests.browser.support import DESKTOP, PHONE, RunningService
from tests.browser.test_accessibility import AXE, axe_problems
from tests.support.archive import sent_digest
from tests.support.factories import engine_settings

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def _accessible(page: Page, where: str) -> None:
    for size in (PHONE, DESKTOP):
        await page.set_viewport_size(size)
        assert await axe_problems(page) == [], where


async def test_a_reader_searches_the_archive(
    service: RunningService, browser: Browser, db: asyncpg.Pool, tmp_path: Path
) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make axe-deps` (npm install axe-core@4)")
    topic = await create_topic(db, name="Overdose Prevention", position=0)
    _, slug, ids = await sent_digest(db, engine_settings(tmp_path), topic.topic_id)
    # axe is the test's script, not the page's: the page's CSP would refuse it.
    english = await browser.new_context(viewport=DESKTOP, locale="en-GB", bypass_csp=True)
    spanish = await browser.new_context(viewport=DESKTOP, locale="es-ES", bypass_csp=True)
    for context in (english, spanish):
        context.set_default_timeout(10_000)
    try:
        page = await english.new_page()
        await page.goto(f"{service.base_url}/archive")
        box = page.get_by_role("searchbox", name="Search the archive")
        await box.fill("vending machine")
        await box.press("Enter")
        await page.wait_for_url("**/archive?q=vending+machine*")
        result = page.get_by_role("link", name="Naloxone vending machines reach every library")
        await expect(result).to_be_visible()
        await expect(page.get_by_role("status")).to_contain_text("vending machine")
        await _accessible(page, "results")

        # Nothing matches: said plainly, the words kept in the box to change them.
        box = page.get_by_role("searchbox", name="Search the archive")
        await expect(box).to_have_value("vending machine")
        await box.fill("zzyzx")
        await page.get_by_role("button", name="Search").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Nothing in the archive matches “zzyzx”"
        )
        await _accessible(page, "nothing found")

        # A Spanish reader's browser gets the page in Spanish, and Spanish stems find
        # "muertes" from "muerte".
        page = await spanish.new_page()
        await page.goto(f"{service.base_url}/archive")
        box = page.get_by_role("searchbox", name="Buscar en el archivo")
        await box.fill("muerte")
        await box.press("Enter")
        await page.get_by_role("link", name="Las sobredosis bajan en la ciudad").click()
        await page.wait_for_url(f"**/archive/items/{ids['sobredosis']}")
        await _accessible(page, "item page")
        await page.goto(f"{service.base_url}/archive/{slug}")
        await _accessible(page, "digest page")
    finally:
        await english.close()
        await spanish.close()
