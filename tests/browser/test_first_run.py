"""The README's "Try this" walk, in Chromium against a real `mailer serve` in development
with demo seeding on: everything a newcomer does after `make run`, through the links the
pages themselves offer. The steps are the README's (tests/browser/walk.py keeps the
pictures in step), so a README path that stops working fails here."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Dialog, Page, Route, expect

from mailer.demo.content import DEMO_ADMIN_EMAIL, DEMO_SERIES_NAME
from mailer.web.public import MIN_FORM_SECONDS
from tests.browser import walk
from tests.browser.support import NOT_LOOPBACK
from tests.support.process import Service, free_port, mailer_env

OWN_PASSWORD = "my own long passphrase"
pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

EMAIL = "you@example.org"
DEMO_ITEMS = 12  # stories in mailer/demo_feed/feed.xml
WAIT_SECONDS = 30.0  # for the poller (every 5 s), the worker and the banner
SEND_WAIT_MS = 60_000
NALOXONE = "Naloxone vending machines arrive at three transit hubs"  # the newest demo story


@dataclass(frozen=True)
class Newcomer:
    """The service as `make run` starts it, and what it printed."""

    base_url: str
    process: Service

    async def password(self) -> str:
        """The admin's one-time password, from the banner the service printed."""
        deadline = time.monotonic() + WAIT_SECONDS
        while not (
            found := re.search(r"^\s+password\s+(\S+)\s*$", self.process.output_so_far(), re.M)
        ):
            assert time.monotonic() < deadline, self.process.output_so_far()
            await asyncio.sleep(0.1)
        return found.group(1)


@pytest.fixture
def newcomer(tmp_path: Path, db_url: str) -> Iterator[Newcomer]:
    """`mailer serve` in development with the embedded defaults (development SMTP sink and
    outbox, generated secret key) and demo seeding on, on an empty clone of the test
    database instead of the embedded PostgreSQL (the same thing, quicker to start)."""
    port = free_port()
    env = mailer_env(
        tmp_path / "data",
        MAILER_DATABASE_URL=db_url,
        MAILER_LISTEN=f"127.0.0.1:{port}",
        MAILER_DEMO="true",
    )
    process = Service.start(env, port, log_file=tmp_path / "serve.log")
    process.wait_ready()
    yield Newcomer(base_url=process.base_url, process=process)
    assert process.stop(signal.SIGTERM) == 0, process.output()
    assert "Traceback" not in process.output(), process.output()


@pytest_asyncio.fixture(loop_scope="session")
async def window(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser window of the README pictures' size; links that open a new tab
    (those in a mail in the outbox) open in it too, and nothing but loopback is reached."""
    context = await browser.new_context(viewport=walk.VIEWPORT, locale="en-GB")
    context.set_default_timeout(10_000)

    async def refuse(route: Route) -> None:
        await route.abort("blockedbyclient")

    await context.route(NOT_LOOPBACK, refuse)
    yield await context.new_page()
    await context.close()


def accept_dialogs(page: Page) -> list[str]:
    """The console asks before sending; a newcomer says yes."""
    seen: list[str] = []

    async def accept(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    return seen


async def open_in_outbox(page: Page, base_url: str, subject: str) -> None:
    """From the start page to the outbox, then the newest mail whose subject starts so
    (reloading while the worker has not sent it yet, as a person would)."""
    await page.goto(f"{base_url}/")
    await page.get_by_role("link", name="outbox").first.click()
    await expect(page.get_by_role("heading", name="Development outbox")).to_be_visible()
    mail = page.get_by_role("link", name=re.compile(f"^{re.escape(subject)}"))
    deadline = time.monotonic() + WAIT_SECONDS
    while not await mail.count():
        assert time.monotonic() < deadline, f"no mail {subject!r} in the outbox"
        await asyncio.sleep(0.3)
        await page.reload()
    await mail.first.click()
    await expect(page.get_by_title("HTML version of the mail")).to_be_visible()


async def follow_in_mail(page: Page, link: str) -> Page:
    """Click a link in the mail shown in the outbox: it opens in a new tab, as in a webmail."""
    mail = page.frame_locator("iframe[title='HTML version of the mail']")
    async with page.context.expect_page() as opened:
        await mail.get_by_role("link", name=link, exact=True).click()
    tab = await opened.value
    await tab.wait_for_load_state()
    return tab


async def subscriber(db: asyncpg.Pool) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT status, array(SELECT t.name FROM subscriber_topics st JOIN topics t "
        "USING (topic_id) WHERE st.subscriber_id = s.subscriber_id ORDER BY t.position) "
        "AS topics FROM subscribers s WHERE email_key = $1",
        EMAIL,
    )


async def demo_items(db: asyncpg.Pool) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM items")
    return count


@pytest.mark.timeout(240)
async def test_the_readme_walk(newcomer: Newcomer, window: Page, db: asyncpg.Pool) -> None:
    base, page = newcomer.base_url, window
    dialogs = accept_dialogs(page)
    password = await newcomer.password()  # the newcomer reads the banner, then opens the page

    # The start page: every place it names answers.
    await page.goto(f"{base}/")
    await expect(page.get_by_role("heading", level=1, name="mailer is running")).to_be_visible()
    await expect(page.locator("#demo-data")).to_contain_text(DEMO_ADMIN_EMAIL)
    places = page.get_by_role("list", name="Everything here")
    for name, path in (
        ("Signup form", "/subscribe"),
        ("Editor console", "/console/"),
        ("Outbox", "/dev/outbox"),
        ("Archive", "/archive"),
        ("Editor API (OpenAPI)", "/api/v1/openapi.json"),
        ("Demo feed", "/demo/feed.xml"),
    ):
        link = places.get_by_role("link", name=name, exact=True)
        await expect(link).to_have_attribute("href", path)
        answer = await page.request.get(f"{base}{path}")
        assert answer.ok, (path, answer.status)
    await walk.snap(page, "01-start")
    steps = page.get_by_role("list", name="Try this")

    # 1. Sign up, from the start page's link.
    await steps.get_by_role("link", name="signup form").click()
    served = time.monotonic()
    await expect(page.get_by_role("heading", level=1, name="Join our email list")).to_be_visible()
    await page.get_by_label("Email address").fill(EMAIL)
    await page.get_by_label("Name (optional)").fill("Robin")
    await page.get_by_role("checkbox", name="Overdose Prevention").check()
    await page.get_by_role("checkbox", name="Road Safety").check()
    await walk.snap(page, "02-signup")
    await asyncio.sleep(max(0.0, served + MIN_FORM_SECONDS + 0.2 - time.monotonic()))
    await page.get_by_role("button", name="Subscribe").click()
    await expect(page.get_by_role("heading", level=1, name="Check your inbox")).to_be_visible()

    # 2. Confirm from the outbox: the mail's button opens the link in a new tab.
    await open_in_outbox(page, base, "Confirm your subscription")
    await expect(page.get_by_role("list", name="Links in this mail")).to_contain_text(
        "Confirm my subscription"
    )
    await walk.snap(page, "03-confirmation-mail")
    confirmed = await follow_in_mail(page, "Confirm my subscription")
    await expect(confirmed.get_by_role("heading", level=1, name="Welcome, Robin!")).to_be_visible()
    await walk.snap(confirmed, "04-confirmed")
    await confirmed.close()
    row = await subscriber(db)
    assert row is not None
    assert (row["status"], row["topics"]) == ("active", ["Overdose Prevention", "Road Safety"])

    # 3. Assemble and send a digest in the console, signed in with the printed password.
    deadline = time.monotonic() + WAIT_SECONDS  # the poller reads the demo feed within seconds
    while await demo_items(db) < DEMO_ITEMS:
        assert time.monotonic() < deadline, newcomer.process.output_so_far()
        await asyncio.sleep(0.3)
    await page.goto(f"{base}/")
    await steps.get_by_role("link", name="editor console").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Email address").fill(DEMO_ADMIN_EMAIL)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    # The printed password was for the first sign-in only: the admin chooses their own.
    await expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    await page.get_by_label("New password").fill(OWN_PASSWORD)
    await page.get_by_label("The same password again").fill(OWN_PASSWORD)
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await page.get_by_role("link", name="Digests", exact=True).click()
    series = page.get_by_label("Series").locator("option:checked")
    await expect(series).to_have_text(DEMO_SERIES_NAME)
    await page.get_by_role("button", name="Assemble from the feed").click()
    await expect(page.get_by_text("Draft created from the feed's new items.")).to_be_visible()
    await expect(page.locator("#digest-items > li")).to_have_count(DEMO_ITEMS)
    await expect(page.get_by_text(NALOXONE)).to_be_visible()
    await page.locator("#items-heading").evaluate(
        "h => { h.scrollIntoView({block: 'start'}); window.scrollBy(0, -16); }"
    )
    await walk.snap(page, "05-console-digest")
    subject = (await page.get_by_role("heading", level=1).inner_text()).strip()
    await page.get_by_role("button", name="Send now").click()
    await expect(page.locator("#status")).to_have_text("sent", timeout=SEND_WAIT_MS)
    await expect(page.locator('[data-count="sent"]')).to_have_text("1")
    await walk.snap(page, "06-sending-done")

    # 4. Read it in the outbox: the stories of Robin's topics only.
    await open_in_outbox(page, base, subject)
    mail = page.frame_locator("iframe[title='HTML version of the mail']")
    await expect(mail.get_by_role("link", name=NALOXONE)).to_be_visible()
    await expect(mail.get_by_role("link", name=re.compile("speed limits", re.I))).to_be_visible()
    await expect(mail.get_by_role("link", name=re.compile("flavoured vapes"))).to_have_count(0)
    await walk.snap(page, "07-digest-mail")

    # 5. Change preferences from the digest's link.
    preferences = await follow_in_mail(page, "Manage your preferences")
    await expect(
        preferences.get_by_role("heading", level=1, name="Your preferences")
    ).to_be_visible()
    await preferences.get_by_role("checkbox", name="Road Safety").uncheck()
    await preferences.get_by_role("checkbox", name="Tobacco Control").check()
    await preferences.get_by_role("button", name="Save my preferences").click()
    await expect(preferences.get_by_role("status")).to_contain_text("Saved.")
    await walk.snap(preferences, "08-preferences-saved")
    await preferences.close()
    row = await subscriber(db)
    assert row is not None
    assert row["topics"] == ["Overdose Prevention", "Tobacco Control"]

    # 6. Unsubscribe from the same digest.
    unsubscribe = await follow_in_mail(page, "Unsubscribe")
    await expect(unsubscribe.get_by_role("heading", level=1, name="Unsubscribe")).to_be_visible()
    await unsubscribe.get_by_role("button", name="Unsubscribe").click()
    await expect(
        unsubscribe.get_by_role("heading", level=1, name="You're unsubscribed")
    ).to_be_visible()
    await walk.snap(unsubscribe, "09-unsubscribed")
    row = await subscriber(db)
    assert row is not None
    assert row["status"] == "unsubscribed"

    assert dialogs == ["Send this digest to 1 subscriber now?"]
    for name in walk.SCREENSHOTS:
        shot = walk.ARTIFACTS / f"{name}.png"
        assert shot.stat().st_size <= walk.MAX_BYTES, (shot, shot.stat().st_size)
    if walk.UPDATE:
        walk.publish()
