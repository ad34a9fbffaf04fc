"""The mail template editor as an admin uses it: the preview follows their typing (as a
chosen subscriber), a broken line is named before saving and refused on saving, a good
edit is saved as a version; axe-core finds nothing serious on the page."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from tests.browser.support import DESKTOP, RunningService, save_screenshots
from tests.browser.test_accessibility import AXE, RAW, axe_problems
from tests.browser.test_console import sign_in
from tests.support.console import add_editor, newsroom

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_an_admin_edits_the_welcome_mail_with_a_live_preview(
    service: RunningService, browser: Browser, db: asyncpg.Pool
) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make axe-deps` (npm install axe-core@4)")
    await newsroom(db)
    await db.execute("UPDATE subscribers SET name = 'Zoë' WHERE email = 'reader0@example.org'")
    await add_editor(db, "root@example.org", role="admin", name="Root Admin")
    base = service.base_url
    # axe is injected by the test: the page's CSP (rightly) refuses inline scripts.
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await sign_in(page, base, "root@example.org")
        await page.wait_for_url(f"{base}/console/")
        await page.get_by_role("link", name="Mail templates").click()
        await page.get_by_role("link", name="Welcome").click()
        await expect(page.get_by_role("heading", name="Welcome mail template")).to_be_visible()
        assert await axe_problems(page) == []
        text = await page.inner_text("body")
        assert RAW.search(text) is None, RAW.search(text)

        # As a chosen subscriber: her name in the greeting, in the text and in the frame.
        await page.get_by_label("Subscriber (address or id").fill("reader0@example.org")
        body = page.get_by_label("Plain-text part (body.txt)")
        await body.press("End")
        await body.press("Control+End")
        await body.type("\nSee you soon.\n")
        preview_text = page.locator("#preview-text")
        await expect(preview_text).to_contain_text("See you soon.")
        await expect(preview_text).to_contain_text("Hello Zoë,")
        frame = page.frame_locator("iframe[name=mail-preview]")
        await expect(frame.locator("body")).to_contain_text("Zoë")
        await expect(page.locator("#preview-as")).to_contain_text("Zoë")

        # A broken line is named while typing, and the save is refused with it.
        await body.type("{{ org.name \n")
        problem = page.locator("#preview-problem")
        await expect(problem).to_be_visible()
        await expect(problem).to_contain_text("Line")
        await page.get_by_role("button", name="Save as a new version").click()
        await expect(page.locator(".field-error")).to_contain_text("Line")
        assert await db.fetchval("SELECT count(*) FROM mail_template_versions") == 0
        assert await axe_problems(page) == []  # the refused form too

        # Fixed, saved: a version in force, in the history, sent from now on.
        fixed = (await body.input_value()).replace("{{ org.name \n", "")
        await body.fill(fixed)
        await page.get_by_role("button", name="Save as a new version").click()
        await expect(page.get_by_role("status").first).to_contain_text("Saved")
        await expect(page.locator("#in-force")).to_contain_text("saved by root@example.org")
        assert await db.fetchval(
            "SELECT body_txt LIKE '%See you soon.%' FROM mail_template_versions"
        )
        assert await axe_problems(page) == []
        text = await page.inner_text("body")
        assert RAW.search(text) is None, RAW.search(text)
        # The frame shows the version in force, as everyone's copy.
        await expect(frame.locator("body")).to_contain_text("subscription to", timeout=10_000)
        await save_screenshots(page, "console-mail-template")
    finally:
        await context.close()
