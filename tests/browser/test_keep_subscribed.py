"""A reader answers "Do you still want these?" in Chromium, in Spanish: the link shows one
button, pressing it keeps them; axe-core finds no serious or critical violation."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, expect

from mailer.editorial import repermission
from mailer.tokens import Signer
from tests.browser.support import DESKTOP, RunningService
from tests.browser.test_accessibility import AXE, axe_problems
from tests.support.factories import SECRET, engine_settings

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture
def service_env() -> dict[str, str]:
    return {"MAILER_SECRET_KEY": SECRET}  # so the test can make the reader's link


async def test_a_reader_keeps_their_subscription(
    service: RunningService, browser: Browser, db: asyncpg.Pool, tmp_path: Path
) -> None:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make axe-deps` (npm install axe-core@4)")
    reader = await db.fetchval(
        "INSERT INTO subscribers (email, email_key, status, locale, confirmed_at) "
        "VALUES ('lupe@example.org', 'lupe@example.org', 'active', 'es', "
        "now() - interval '2 years') RETURNING subscriber_id"
    )
    settings = engine_settings(tmp_path)
    campaign = await repermission.create_campaign(
        db, settings, repermission.Terms(12, 30), requested_by="test"
    )
    await repermission.send_campaign(db, settings, campaign["campaign_id"], confirm=1, by="test")
    token = repermission.keep_token(Signer(SECRET), campaign["mailing_id"], reader, 1)
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await page.goto(f"{service.base_url}/keep/{token}")
        button = page.get_by_role("button", name="Sí, mantener mi suscripción")
        await expect(button).to_be_visible()
        assert await axe_problems(page) == []
        await button.click()
        await expect(page.get_by_role("status")).to_contain_text("Sigue suscrito")
        assert await axe_problems(page) == []
    finally:
        await context.close()
    answered = await db.fetchval(
        "SELECT answered_at IS NOT NULL FROM repermission_recipients WHERE subscriber_id = $1",
        reader,
    )
    assert answered
