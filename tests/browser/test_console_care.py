"""Rough edges of the console an editor would hit, in Chromium against a real `mailer serve`:
"Send now" says how many people get the digest, a reloaded page of a new API key or
set-password link makes nothing twice, a bad date filter is said, times in the browser's
zone from the first sign-in, a given-out password is changed first, the favicon."""

from __future__ import annotations

import asyncpg
import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from tests.browser.support import DESKTOP, RunningService
from tests.browser.test_console import sign_in
from tests.support.console import PASSWORD, add_editor, newsroom

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_send_now_says_how_many_people_get_the_digest(
    service: RunningService, page: Page, db: asyncpg.Pool
) -> None:
    data = await newsroom(db, readers=3)
    # A paused reader of the series gets nothing now, so is not counted.
    await db.execute(
        "UPDATE subscribers SET paused_until = now() + interval '30 days' WHERE subscriber_id = $1",
        data["subscriber_ids"][0],
    )
    await add_editor(db, "ana@example.org")
    await sign_in(page, service.base_url, "ana@example.org")
    await page.get_by_role("link", name="Digests", exact=True).click()
    await page.get_by_role("button", name="Assemble from the feed").click()
    await expect(page.get_by_text("Draft created from the feed's new items.")).to_be_visible()
    mailing_id = int(page.url.split("/console/digests/")[1].split("?")[0])
    # Said on the page too (for browsers without script), beside the button.
    await expect(page.locator("#recipients")).to_contain_text("Goes to 2 subscribers")

    messages: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        messages.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", dismiss)
    await page.get_by_role("button", name="Send now").click()
    assert messages == ["Send this digest to 2 subscribers now?"]
    status = await db.fetchval("SELECT status FROM mailings WHERE mailing_id = $1", mailing_id)
    assert status == "draft"  # dismissed: nothing went

    async def accept(dialog: Dialog) -> None:
        messages.append(dialog.message)
        await dialog.accept()

    page.once("dialog", accept)
    await page.get_by_role("button", name="Send now").click()
    await expect(page).to_have_url(f"{service.base_url}/console/mailings/{mailing_id}")
    sent = await db.fetchval("SELECT count(*) FROM deliveries WHERE mailing_id = $1", mailing_id)
    assert sent == 2  # what the editor was told


async def test_reloading_a_new_key_or_link_makes_no_second_one(
    service: RunningService, page: Page, db: asyncpg.Pool
) -> None:
    await add_editor(db, "root@example.org", role="admin")
    await sign_in(page, service.base_url, "root@example.org")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # An API key: shown once; the reload posts the form again and is told so.
    await page.goto(f"{service.base_url}/console/api-keys")
    await page.get_by_label("Name").fill("CMS production")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_role("heading", name="API key created")).to_be_visible()
    key = await page.get_by_label("Key").input_value()
    await page.reload()
    await expect(page.get_by_role("heading", name="Already done")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("API key “CMS production” was made")
    await expect(page.get_by_text(key[6:])).to_have_count(0)
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 1
    # Only hashes are stored: neither the key nor the form's nonce is anywhere in clear.
    dumped = await db.fetchval("SELECT string_agg(done, ' ') FROM console_form_nonces")
    assert key not in dumped

    # An invitation, then a reset: one link each, however often the page is reloaded.
    await page.goto(f"{service.base_url}/console/editors")
    await page.get_by_label("Email address").fill("bo@example.org")
    await page.get_by_role("button", name="Invite").click()
    await expect(page.get_by_role("heading", name="Account invited")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="Already done")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("account for bo@example.org")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(f"{service.base_url}/console/editors")
    await page.get_by_role("button", name="Reset password of bo@example.org").click()
    await expect(page.get_by_role("heading", name="Password reset")).to_be_visible()
    for _ in range(2):
        await page.reload()
        await expect(page.get_by_role("heading", name="Already done")).to_be_visible()
    links = await db.fetchval(
        "SELECT count(*) FROM editor_password_tokens t JOIN editors e USING (editor_id) "
        "WHERE e.email = 'bo@example.org'"
    )
    assert links == 2  # the invitation's and the reset's, no more
    # A new form (the page opened afresh) makes a new link, as it should.
    await page.get_by_role("link", name="Editors").first.click()
    await page.get_by_role("button", name="Reset password of bo@example.org").click()
    await expect(page.get_by_role("heading", name="Password reset")).to_be_visible()


async def test_a_given_out_password_is_replaced_before_anything_else(
    service: RunningService, page: Page, db: asyncpg.Pool
) -> None:
    from mailer.accounts import editors

    await add_editor(db, "root@example.org", role="admin")
    async with db.acquire() as conn:
        await editors.require_password_change(conn, "root@example.org")  # as the demo seed does
    base = service.base_url
    await page.goto(f"{base}/console/items?q=flu")
    await page.get_by_label("Email address").fill("root@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    await expect(page.get_by_role("navigation").get_by_role("link")).to_have_count(0)
    # No way around it: any other page comes back here.
    await page.goto(f"{base}/console/api-keys")
    await expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    # The given password again is refused; then one of their own.
    await page.get_by_label("New password").fill(PASSWORD)
    await page.get_by_label("The same password again").fill(PASSWORD)
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_text("must differ from the password you were given")).to_be_visible()
    mine = "a kettle of fresh fish at noon"
    await page.get_by_label("New password").fill(mine)
    await page.get_by_label("The same password again").fill(mine)
    await page.get_by_role("button", name="Set password").click()
    # On to the page first asked for (here: the API keys), signed in still.
    await expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    await page.goto(f"{base}/console/items")
    await expect(page.get_by_role("heading", name="Items")).to_be_visible()
    # The given password no longer works; theirs does.
    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_label("Email address").fill("root@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("do not match")
    await sign_in(page, base, "root@example.org", mine)
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


async def test_a_bad_date_filter_is_said_and_the_other_filters_kept(
    service: RunningService, page: Page, db: asyncpg.Pool
) -> None:
    await newsroom(db, readers=3)
    await add_editor(db, "ana@example.org")
    base = service.base_url
    await sign_in(page, base, "ana@example.org")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    answer = await page.goto(f"{base}/console/subscribers?q=reader&status=active&since=garbage")
    assert answer is not None and answer.status == 400
    await expect(page.get_by_role("alert")).to_contain_text(
        "Signed up since must be a date like 2026-03-01 (not “garbage”)."
    )
    await expect(page.get_by_label("Address contains")).to_have_value("reader")
    await expect(page.get_by_label("Status")).to_have_value("active")
    await expect(page.get_by_label("Signed up since")).to_have_attribute("aria-invalid", "true")
    # A right date filters: nobody signed up in the future, everybody since 2000.
    await page.get_by_label("Signed up since").fill("2999-01-01")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_text("Nobody matches.")).to_be_visible()
    await page.get_by_label("Signed up since").fill("2000-01-01")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("link", name="reader2@example.org")).to_be_visible()

    answer = await page.goto(f"{base}/console/items?q=Flu&unsent=1&since=bad")
    assert answer is not None and answer.status == 400
    await expect(page.get_by_role("alert")).to_contain_text(
        "Published since must be a date like 2026-03-01 (not “bad”)."
    )
    await expect(page.get_by_label("Title contains")).to_have_value("Flu")
    await expect(page.get_by_label("Not sent yet")).to_be_checked()
    await page.get_by_label("Published since").fill("2000-01-01")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("link", name="Flu shots for all ages")).to_be_visible()
    await page.get_by_label("Published since").fill("2999-01-01")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text("No items match.")).to_be_visible()


@pytest.mark.parametrize(("script", "shown"), [(True, "America/Chicago"), (False, "UTC")])
async def test_times_are_in_the_browsers_zone_from_the_first_sign_in(
    service: RunningService, browser: Browser, db: asyncpg.Pool, script: bool, shown: str
) -> None:
    await add_editor(db, "ana@example.org")
    context = await browser.new_context(
        viewport=DESKTOP, timezone_id="America/Chicago", java_script_enabled=script
    )
    context.set_default_timeout(5_000)
    try:
        page = await context.new_page()
        await sign_in(page, service.base_url, "ana@example.org")
        await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        await expect(page.get_by_text(f"Times in {shown}")).to_be_visible()
    finally:
        await context.close()
    zone = await db.fetchval("SELECT timezone FROM editors WHERE email = 'ana@example.org'")
    assert zone == (shown if script else None)
    # A zone the editor chose (for a schedule) is kept at the next sign-ins.
    await db.execute("UPDATE editors SET timezone = 'Asia/Tokyo'")
    context = await browser.new_context(viewport=DESKTOP, timezone_id="America/Chicago")
    try:
        page = await context.new_page()
        await sign_in(page, service.base_url, "ana@example.org")
        await expect(page.get_by_text("Times in Asia/Tokyo")).to_be_visible()
    finally:
        await context.close()


async def test_the_site_has_an_icon(service: RunningService, page: Page) -> None:
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    await page.goto(f"{service.base_url}/console/sign-in")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    icon = await page.request.get(f"{service.base_url}/favicon.ico")
    assert (icon.status, icon.headers["content-type"]) == (200, "image/x-icon")
    body = await icon.body()
    assert body[:4] == b"\x00\x00\x01\x00" and b"PNG" in body[:40]  # an icon holding a PNG
    # And the page may show it (its CSP lets images come from the site).
    width = await page.evaluate(
        """() => new Promise(done => { const i = new Image(); i.onload = () => done(i.width);
           i.onerror = () => done(0); i.src = '/favicon.ico?fresh'; })"""
    )
    assert width == 32
    assert failed == []
