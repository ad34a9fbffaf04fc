"""The development outbox in a real browser: list, message (HTML, text, raw), empty."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import pytest
from playwright.async_api import Page, expect

from mailer.embedded import start_dev_smtp_sink
from tests.browser.support import RunningService, Screenshot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SUBJECT = "Überdosis-Prävention: news"


async def send_to_outbox(service: RunningService) -> None:
    """File one multipart mail into the service's outbox through a sink on the same Maildir."""
    message = EmailMessage()
    message["From"] = "Newsroom <news@example.org>"
    message["To"] = "Zoë Tester <zoe@example.org>"
    message["Subject"] = SUBJECT
    message.set_content("Naloxone reverses an opioid overdose.\nCarry it — für alle.\n")
    message.add_alternative(
        "<h1>Naloxone saves lives</h1><p>Carry it: <b>für alle</b>.</p>", subtype="html"
    )
    sink = await start_dev_smtp_sink(service.data_dir)
    try:
        await aiosmtplib.send(message, hostname=sink.host, port=sink.port)
    finally:
        await sink.close()


async def test_outbox_shows_a_mail_and_empties(
    service: RunningService, page: Page, screenshot: Screenshot
) -> None:
    await send_to_outbox(service)

    await page.goto(f"{service.base_url}/dev/outbox")
    await expect(page.get_by_role("heading", name="Development outbox")).to_be_visible()
    subject_link = page.get_by_role("link", name=SUBJECT)
    await expect(subject_link).to_be_visible()
    await expect(page.get_by_role("cell", name="zoe@example.org")).to_be_visible()
    await screenshot("outbox-list")

    await subject_link.click()
    await expect(page.get_by_role("heading", level=1, name=SUBJECT)).to_be_visible()
    # The mail's HTML is shown in a sandboxed frame, never with the outbox's own privileges.
    frame_element = page.get_by_title("HTML version of the mail")
    # (Its links open in a new tab, out of the sandbox, as in a webmail.)
    await expect(frame_element).to_have_attribute(
        "sandbox", "allow-popups allow-popups-to-escape-sandbox"
    )
    mail_html = page.frame_locator("iframe[title='HTML version of the mail']")
    await expect(mail_html.get_by_role("heading", name="Naloxone saves lives")).to_be_visible()
    await expect(mail_html.locator("b")).to_have_text("für alle")
    await expect(page.get_by_role("heading", name="Plain text")).to_be_visible()
    await expect(page.locator("pre")).to_contain_text("Naloxone reverses an opioid overdose.")
    await expect(page.locator("pre")).to_contain_text("Carry it — für alle.")
    await screenshot("outbox-message")
    await page.get_by_text("Headers", exact=True).click()
    await expect(page.get_by_role("row", name="Delivered-To zoe@example.org")).to_be_visible()

    await page.get_by_role("link", name="raw source").click()
    raw = page.locator("body")
    await expect(raw).to_contain_text("Delivered-To: zoe@example.org")
    await expect(raw).to_contain_text("Content-Type: multipart/alternative")
    await expect(raw).to_contain_text("From: Newsroom <news@example.org>")

    await page.go_back()
    await page.get_by_role("link", name="← outbox").click()
    await page.get_by_role("button", name="Empty the outbox").click()
    await expect(page.get_by_text("No mail yet.")).to_be_visible()
    await expect(page.get_by_role("link", name=SUBJECT)).to_have_count(0)
