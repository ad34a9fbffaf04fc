"""Every console page and every subscriber page, in Chromium at phone and desktop sizes:
axe-core finds no serious or critical violation, and no list shows a Python repr, a method
object or None where a value belongs.

axe-core comes from the npm registry at test time (`make axe-deps` puts it in
tests/browser/node/, which git ignores); it is injected with Playwright's add_script_tag."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page

from mailer.tokens import Purpose, Signer
from tests.browser.support import DESKTOP, PHONE, RunningService
from tests.browser.test_console import sign_in
from tests.support.console import add_editor, newsroom
from tests.support.factories import SECRET

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

AXE = Path(__file__).parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
RAW = re.compile(r"<built-in|<bound method|\bNone\b|object at 0x|<Record |Record\(|\{'")

CONSOLE_PAGES = (
    "/console/",
    "/console/items",
    "/console/digests",
    "/console/digests/{digest}",
    "/console/alerts",
    "/console/corrections",
    "/console/clicks",
    "/console/subscribers",
    "/console/subscribers/{subscriber}",
    "/console/subscribers/{subscriber}/choices",
    "/console/suppressions",
    "/console/repermission",
    "/console/bounce-reports",
    "/console/feeds",
    "/console/topics",
    "/console/series",
    "/console/api-keys",
    "/console/editors",
    "/console/webhooks",
    "/console/templates",
    "/console/templates/digest",
)
PUBLIC_PAGES = (
    "/",
    "/subscribe",
    "/subscribe/thanks",
    "/new-link",
    "/archive",
    "/preferences/{preferences}",
    "/preferences/garbled-link",
    "/unsubscribe/garbled-link",
    "/confirm/garbled-link",
)


async def axe_problems(page: Page) -> list[str]:
    """Serious and critical violations on the page as it is now, one line each."""
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def check(page: Page, url: str, size: str) -> list[str]:
    response = await page.goto(url)
    assert response is not None
    problems = [f"{size} {url}: {p}" for p in await axe_problems(page)]
    text = await page.inner_text("body")
    raw = RAW.search(text)
    if raw:
        problems.append(f"{size} {url}: raw value {raw.group(0)!r} in the text")
    return problems


@pytest.fixture
def service_env() -> dict[str, str]:
    return {"MAILER_SECRET_KEY": SECRET}  # so the test can make a subscriber's link


async def test_every_page_passes_axe_and_shows_values(
    service: RunningService, browser: Browser, db: asyncpg.Pool
) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make axe-deps` (npm install axe-core@4)")
    # The pages' CSP forbids inline scripts (as it should); axe is the test's, not the page's.
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        # First, that axe is really running: a page with a picture without words fails.
        await page.set_content("<!doctype html><html lang=en><title>t</title><img src=x.png>")
        assert any(p.startswith("image-alt") for p in await axe_problems(page))
        await _walk(service, page, db)
    finally:
        await context.close()


async def _walk(service: RunningService, page: Page, db: asyncpg.Pool) -> None:
    data = await newsroom(db)
    await add_editor(db, "root@example.org", role="admin", name="Root Admin")
    base = service.base_url
    subscriber = data["subscriber_ids"][0]
    key_version = await db.fetchval(
        "SELECT key_version FROM subscribers WHERE subscriber_id = $1", subscriber
    )
    preferences = Signer(SECRET).subscriber_token(Purpose.PREFERENCES, subscriber, key_version)
    await sign_in(page, base, "root@example.org")
    await page.wait_for_url(f"{base}/console/")
    digest = await db.fetchval(
        "SELECT mailing_id FROM mailings WHERE kind = 'digest' ORDER BY mailing_id LIMIT 1"
    )
    if digest is None:
        await page.goto(f"{base}/console/digests")
        await page.get_by_role("button", name="Assemble from the feed").click()
        digest = int(page.url.split("/console/digests/")[1].split("?")[0])
    ids = {"digest": digest, "subscriber": subscriber, "preferences": preferences}
    problems: list[str] = []
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(viewport)
        for path in (*CONSOLE_PAGES, *PUBLIC_PAGES):
            problems += await check(page, base + path.format(**ids), size)
    assert problems == []
