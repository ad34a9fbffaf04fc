"""The editor console in Chromium against a real `mailer serve`: sign in, assemble a digest
from fixture items, order it, preview it, schedule it seconds ahead, watch it reach 100 %,
find the mails at the SMTP sink (the development outbox); and the refusals."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Dialog, Page, expect

from tests.browser.support import DESKTOP, PHONE, RunningService, Screenshot
from tests.support.console import PASSWORD, XSS, add_editor, newsroom

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SEND_WAIT_MS = 60_000  # the scheduler ticks every 5 s; then 3 mails go to the sink


def watch_dialogs(page: Page) -> list[str]:
    """Every dialog the page opens; `confirm` ones (our own buttons) are accepted."""
    seen: list[str] = []

    async def handle(dialog: Dialog) -> None:
        seen.append(f"{dialog.type}: {dialog.message}")
        await dialog.accept()

    page.on("dialog", handle)
    return seen


async def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base_url}/console/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def digest_order(db: asyncpg.Pool, mailing_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT item_id FROM mailing_items WHERE mailing_id = $1 ORDER BY position", mailing_id
    )
    return [r["item_id"] for r in rows]


async def test_compose_schedule_and_watch_a_digest_go_out(
    service: RunningService, page: Page, db: asyncpg.Pool, screenshot: Screenshot
) -> None:
    data = await newsroom(db)
    await add_editor(db, "ana@example.org", name="Ana Editor")
    dialogs = watch_dialogs(page)
    base = service.base_url

    await page.goto(f"{base}/console/")
    await screenshot("console-sign-in")
    await sign_in(page, base, "ana@example.org")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await expect(page.get_by_text("Ana Editor")).to_be_visible()
    await expect(page.get_by_role("link", name="Editors")).to_have_count(0)  # admin only
    await screenshot("console-dashboard-empty")

    # Items: the hostile title is shown literally.
    await page.get_by_role("link", name="Items", exact=True).click()
    await expect(page.get_by_role("link", name=f"Harm reduction {XSS}")).to_be_visible()
    await screenshot("console-items")

    # Assemble a digest from the feed's items.
    await page.get_by_role("link", name="Digests", exact=True).click()
    await page.get_by_label("Series").select_option(label="Weekly news")
    await page.get_by_role("button", name="Assemble from the feed").click()
    await expect(page.get_by_text("Draft created from the feed's new items.")).to_be_visible()
    mailing_id = int(page.url.split("/console/digests/")[1].split("?")[0])
    items = page.locator("#digest-items > li")
    await expect(items).to_have_count(4)
    first = await digest_order(db, mailing_id)

    # Reorder with a button (works without script), then by dragging.
    await page.get_by_role("button", name="Move down: Naloxone in every pharmacy").click()
    await expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    after_button = await digest_order(db, mailing_id)
    naloxone = first.index(data["item_ids"][0])
    assert after_button.index(data["item_ids"][0]) == naloxone + 1
    await items.nth(3).drag_to(items.nth(0))
    await expect(page.locator("#save-status")).to_have_text("Order saved.")
    after_drag = await digest_order(db, mailing_id)
    assert after_drag[0] == after_button[3]
    assert sorted(after_drag) == sorted(first)

    # Subject and intro, with the live preview (hostile HTML in the intro stays text).
    await page.get_by_label("Subject", exact=True).fill("Weekly: naloxone and measles")
    await page.get_by_label("Introduction (Markdown)").fill(f"**Hello readers** {XSS}")
    preview = page.locator("#intro-preview")
    await expect(preview.locator("strong")).to_have_text("Hello readers")
    await expect(preview).to_contain_text("<script>alert('xss')</script>")
    await expect(preview.locator("script, img")).to_have_count(0)
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Weekly: naloxone and measles")
    await expect(page.locator("#intro-preview")).to_contain_text("<img src=x onerror=alert(1)>")
    await screenshot("console-composer")

    # Preview as one subscriber.
    await page.locator("#subscriber").fill("reader0@example.org")
    await page.get_by_role("button", name="Preview").click()
    frame = page.frame_locator("iframe.mail-preview")
    await expect(frame.get_by_text("Hello Reader 0,")).to_be_visible()
    await expect(frame.get_by_text("Hello readers")).to_be_visible()
    await expect(page.get_by_title("HTML version of the digest")).to_have_attribute("sandbox", "")
    await screenshot("console-preview")
    await page.get_by_role("link", name="← Back to the digest").click()
    # The composer's script sets the browser's zone when it starts: choose after that, as a
    # person would (a click commits the navigation before the page's scripts have run).
    await page.wait_for_load_state("load")

    # Schedule a few seconds ahead, in an explicit zone.
    zone = "Europe/Berlin"
    await page.get_by_label("Time zone").select_option(zone)
    await expect(page.locator("#zone-shown")).to_have_text(zone)
    at = datetime.now(ZoneInfo(zone)) + timedelta(seconds=6)
    await page.get_by_label("Date and time").fill(at.strftime("%Y-%m-%dT%H:%M:%S"))
    await page.get_by_role("button", name="Schedule").click()
    await expect(page.get_by_text(f"Goes out on {at:%A %d %B %Y at %H:%M}")).to_be_visible()
    scheduled_at = await db.fetchval(
        "SELECT scheduled_at FROM mailings WHERE mailing_id = $1", mailing_id
    )
    assert abs((scheduled_at - at).total_seconds()) < 1

    # The live view: from scheduled to sent, updated by server-sent events.
    await page.goto(f"{base}/console/mailings/{mailing_id}")
    await expect(page.locator("#status")).to_have_text("sent", timeout=SEND_WAIT_MS)
    await expect(page.locator('[data-field="percent"]')).to_have_text("100")
    await expect(page.locator('[data-count="sent"]')).to_have_text("3")
    bar = page.get_by_role("progressbar")
    await expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^100(\.0)?$"))
    await expect(page.get_by_text("This send is over.")).to_be_visible()
    # Over means over: nothing left to pause or cancel (issue #22).
    await expect(page.get_by_role("button", name="Pause")).to_be_hidden()
    await expect(page.get_by_role("button", name="Cancel the rest")).to_be_hidden()
    await screenshot("console-sending-done")

    # The mails are at the SMTP sink.
    deadline = time.monotonic() + 10
    while True:
        listing = await (await page.request.get(f"{base}/dev/outbox.json")).json()
        mails = [m for m in listing["messages"] if m["subject"] == "Weekly: naloxone and measles"]
        if len(mails) == 3 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert sorted(m["recipients"] for m in mails) == [f"reader{i}@example.org" for i in range(3)], (
        listing
    )
    text = await (await page.request.get(f"{base}/dev/outbox/{mails[0]['key']}/text")).text()
    assert "Hello readers" in text
    assert "Naloxone in every pharmacy" in text

    # The mail's footer links read on a phone (16 px, not 12-13: issue #22), as a mail
    # client applies the mail's own small-screen styles; the web version is the same HTML.
    slug = await db.fetchval("SELECT slug FROM mailings WHERE mailing_id = $1", mailing_id)
    await page.set_viewport_size(PHONE)
    await page.goto(f"{base}/archive/{slug}/body")
    sizes = await page.locator(".footer a").evaluate_all(
        "links => links.map(a => parseFloat(getComputedStyle(a).fontSize))"
    )
    assert sizes and min(sizes) >= 16, sizes
    await page.set_viewport_size(DESKTOP)

    await page.goto(f"{base}/console/")
    await expect(page.get_by_role("link", name="Weekly: naloxone and measles")).to_be_visible()
    await screenshot("console-dashboard")
    assert not [d for d in dialogs if not d.startswith("confirm")], dialogs


async def test_console_refuses_what_it_must(
    service: RunningService, page: Page, db: asyncpg.Pool, screenshot: Screenshot
) -> None:
    await add_editor(db, "ana@example.org")
    await add_editor(db, "root@example.org", role="admin", name="Root")
    base = service.base_url

    # A wrong password and an unknown account read the same.
    answers = []
    for email, password in (("ana@example.org", "wrong password!"), ("no@example.org", PASSWORD)):
        await sign_in(page, base, email, password)
        answers.append(await page.get_by_role("alert").inner_text())
    assert answers[0] == answers[1] == "That address and password do not match an account."
    await screenshot("console-sign-in-refused")

    await sign_in(page, base, "ana@example.org")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # An editor on an admin page.
    response = await page.goto(f"{base}/console/editors")
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_text("This page is for administrators.")).to_be_visible()
    await screenshot("console-forbidden")
    # A form posted without its CSRF token (as another site would).
    forged = await page.request.post(f"{base}/console/sign-out", form={"x": "1"})
    assert forged.status == 403
    # An expired session: back to the sign-in page, and then where the editor was going.
    await db.execute("UPDATE editor_sessions SET expires_at = now() - interval '1 second'")
    await page.goto(f"{base}/console/items")
    await expect(page.get_by_text("Your session ended. Please sign in again.")).to_be_visible()
    await page.get_by_label("Email address").fill("ana@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Items")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You are signed out.")).to_be_visible()

    await sign_in(page, base, "root@example.org")
    await expect(page.get_by_role("link", name="Editors")).to_be_visible()
    await page.get_by_role("link", name="Editors").click()
    await expect(page.get_by_role("heading", name="Editors")).to_be_visible()
