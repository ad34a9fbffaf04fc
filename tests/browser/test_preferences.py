"""The pages behind the personal links of every mail, in a real browser against a real
`mailer serve`: a digest is sent to the development outbox, and its "Manage your
preferences" and "Unsubscribe" links are followed the way a reader would."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from mailer.addresses import address_key
from mailer.audience.topics import Topic, create_topic
from tests.browser.support import RunningService, Screenshot
from tests.support import mailings as support_mailings
from tests.support.factories import digest_mailing

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

OVERDOSE = "Overdose Prevention"
TOBACCO = "Tobacco Control"
MENTAL = "Mental Health"
EMAIL = "rita.reader@example.org"
MASKED = "r••••••••@example.org"  # first letter, at most 8 dots, the domain
MAIL_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Reader:
    """A subscriber who received a digest, and the personal links in its text part."""

    subscriber_id: int
    preferences_url: str
    unsubscribe_url: str


@pytest_asyncio.fixture(loop_scope="session")
async def topics(db: asyncpg.Pool) -> list[Topic]:
    return [
        await create_topic(
            db, name=OVERDOSE, description="Naloxone, drug checking and harm reduction", position=1
        ),
        await create_topic(db, name=TOBACCO, position=2),
        await create_topic(
            db,
            name=MENTAL,
            description="Services, research and interviews with clinicians across the region",
            position=3,
        ),
        await create_topic(db, name="Staff Bulletin", slug="staff", public=False),
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def reader(
    service: RunningService, page: Page, db: asyncpg.Pool, topics: list[Topic]
) -> Reader:
    """An active subscriber to Overdose Prevention (and the hidden staff topic), sent a digest
    by the service's own worker; the links come from the mail its outbox received."""
    overdose, _, _, staff = topics
    async with db.acquire() as conn, conn.transaction():
        subscriber_id: int = await conn.fetchval(
            "INSERT INTO subscribers (email, email_key, name, status) "
            "VALUES ($1, $2, 'Rita', 'active') RETURNING subscriber_id",
            EMAIL,
            address_key(EMAIL),
        )
        await conn.execute(
            "INSERT INTO subscriber_topics (subscriber_id, topic_id) VALUES ($1, $2), ($1, $3)",
            subscriber_id,
            overdose.topic_id,
            staff.topic_id,
        )
    mailing_id = await digest_mailing(db)
    assert await support_mailings.start_sending(db, mailing_id) == 1
    body = await mail_text(page, service.base_url, subject="Weekly public health news")
    preferences = re.search(r"^Manage your preferences: (\S+)\s*$", body, re.MULTILINE)
    unsubscribe = re.search(r"^Unsubscribe: (\S+)\s*$", body, re.MULTILINE)
    assert preferences and unsubscribe, body
    assert preferences.group(1).startswith(f"{service.base_url}/preferences/"), body
    assert unsubscribe.group(1).startswith(f"{service.base_url}/unsubscribe/"), body
    return Reader(subscriber_id, preferences.group(1), unsubscribe.group(1))


async def outbox_subjects(page: Page, base_url: str) -> list[tuple[str, str]]:
    """(key, subject) of every mail to EMAIL in the outbox, newest first."""
    listing = await page.request.get(f"{base_url}/dev/outbox.json")
    assert listing.ok, await listing.text()
    return [
        (m["key"], m["subject"])
        for m in (await listing.json())["messages"]
        if EMAIL in m["recipients"]
    ]


async def mail_text(page: Page, base_url: str, *, subject: str) -> str:
    """The text part of the newest mail to EMAIL whose subject starts so (waits for the
    worker, which sends within a second or two)."""
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while not (
        found := [k for k, s in await outbox_subjects(page, base_url) if s.startswith(subject)]
    ):
        assert time.monotonic() < deadline, f"no mail {subject!r} to {EMAIL} in the outbox"
        await asyncio.sleep(0.1)
    text = await page.request.get(f"{base_url}/dev/outbox/{found[0]}/text")
    assert text.ok, await text.text()
    return await text.text()


async def subscriber_row(db: asyncpg.Pool, subscriber_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT status, paused_until, "
        "array(SELECT slug FROM subscriber_topics JOIN topics USING (topic_id) "
        "      WHERE subscriber_id = s.subscriber_id ORDER BY slug) AS slugs "
        "FROM subscribers s WHERE subscriber_id = $1",
        subscriber_id,
    )


async def test_change_topics_and_pause(
    page: Page, screenshot: Screenshot, db: asyncpg.Pool, reader: Reader
) -> None:
    await page.goto(reader.preferences_url)
    await expect(page.get_by_role("heading", level=1, name="Your preferences")).to_be_visible()
    await expect(page.get_by_text(MASKED)).to_be_visible()
    await expect(page.get_by_text(EMAIL)).to_have_count(0)
    await expect(page.get_by_role("checkbox", name=OVERDOSE)).to_be_checked()
    await expect(page.get_by_role("checkbox", name=TOBACCO)).not_to_be_checked()
    await expect(page.get_by_role("checkbox", name="Staff Bulletin")).to_have_count(0)
    await expect(page.get_by_role("radio", name="No pause")).to_be_checked()
    await screenshot("preferences")

    await page.get_by_role("checkbox", name=TOBACCO).check()
    await page.get_by_role("checkbox", name=OVERDOSE).uncheck()
    await page.get_by_role("radio", name="Pause for 1 month").check()
    await page.get_by_role("button", name="Save my preferences").click()

    confirmation = page.get_by_role("status")
    await expect(confirmation).to_contain_text("Saved.")
    changes = confirmation.get_by_role("listitem")
    await expect(changes).to_have_text(
        [f"Added {TOBACCO}", f"Removed {OVERDOSE}", re.compile(r"^Paused until \d\d \w+ \d{4}$")]
    )
    # The page shows the saved state, not the form as it was posted.
    await expect(page.get_by_role("checkbox", name=TOBACCO)).to_be_checked()
    await expect(page.get_by_role("checkbox", name=OVERDOSE)).not_to_be_checked()
    await expect(page.get_by_role("radio", name="Keep the pause")).to_be_checked()
    await screenshot("preferences-saved")

    row = await subscriber_row(db, reader.subscriber_id)
    assert row is not None
    assert row["status"] == "active"
    assert row["slugs"] == ["staff", "tobacco-control"]  # the hidden topic is kept
    paused_until: datetime = row["paused_until"]
    assert abs(paused_until - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    await expect(changes.nth(2)).to_have_text(f"Paused until {paused_until:%d %B %Y}")
    await expect(
        page.get_by_text(f"Digests are paused until {paused_until:%d %B %Y}")
    ).to_be_visible()
    ledger = await db.fetch(
        "SELECT action, topics, detail FROM consent_events WHERE subscriber_id = $1",
        reader.subscriber_id,
    )
    assert [(r["action"], r["topics"]) for r in ledger] == [("preferences", ["tobacco-control"])]
    assert ledger[0]["detail"]["changes"][:2] == [f"Added {TOBACCO}", f"Removed {OVERDOSE}"]


async def test_unsubscribe_and_subscribe_again(
    service: RunningService, page: Page, screenshot: Screenshot, db: asyncpg.Pool, reader: Reader
) -> None:
    await page.goto(reader.unsubscribe_url)
    await expect(page.get_by_role("heading", level=1, name="Unsubscribe")).to_be_visible()
    await expect(page.get_by_text(MASKED)).to_be_visible()
    await expect(page.get_by_role("button")).to_have_count(1)
    await expect(
        page.get_by_role("link", name="change your topics or take a break")
    ).to_be_visible()
    await screenshot("unsubscribe")
    row = await subscriber_row(db, reader.subscriber_id)
    assert row is not None
    assert row["status"] == "active"  # opening the link (as a scanner would) changes nothing

    await page.get_by_role("button", name="Unsubscribe").click()
    await expect(page.get_by_role("heading", level=1, name="You're unsubscribed")).to_be_visible()
    await screenshot("unsubscribed")
    row = await subscriber_row(db, reader.subscriber_id)
    assert row is not None
    assert row["status"] == "unsubscribed"
    ledger = await db.fetch(
        "SELECT action, detail FROM consent_events WHERE subscriber_id = $1", reader.subscriber_id
    )
    assert [(r["action"], r["detail"]) for r in ledger] == [("unsubscribe", {"one_click": False})]

    await page.goto(reader.preferences_url)
    await expect(
        page.get_by_text("You are unsubscribed and receive no mail from us.")
    ).to_be_visible()
    await expect(page.get_by_role("button", name="Save my preferences")).to_have_count(0)
    await page.get_by_role("button", name="Subscribe again").click()
    # At once: the personal link proves the mailbox, so no confirmation mail to wait for
    # (which the 10-minute throttle could hold back: "Check your inbox" with nothing sent).
    await expect(page.get_by_role("status")).to_contain_text("You're subscribed again.")
    await expect(page.get_by_role("heading", level=1, name="Check your inbox")).to_have_count(0)
    await expect(page.get_by_role("button", name="Save my preferences")).to_be_visible()
    await expect(page.get_by_role("checkbox", name=OVERDOSE)).to_be_checked()
    assert [s for _, s in await outbox_subjects(page, service.base_url)] == [
        "Weekly public health news",
    ]
    row = await subscriber_row(db, reader.subscriber_id)
    assert row is not None
    assert row["status"] == "active"


async def test_preference_page_by_keyboard(page: Page, reader: Reader) -> None:
    await page.goto(reader.preferences_url)
    form = page.locator("form.stack")
    # Every control has an accessible name, from a real <label> (so clicking the text works).
    for label in (
        "Name",
        OVERDOSE,
        TOBACCO,
        MENTAL,
        "No pause",
        "Pause for 1 month",
        "Pause for 3 months",
        "Plain text only",
    ):
        await expect(form.get_by_label(label)).to_have_count(1)
    controls = page.locator("input:not([type=hidden]), select, textarea, button")
    for index in range(await controls.count()):
        await expect(controls.nth(index)).to_have_accessible_name(re.compile(r"\w"))

    # Tab from the top: name, topics in order, alerts, the checked pause radio, format, Save.
    save = page.get_by_role("button", name="Save my preferences")
    visited: list[str] = []
    for _ in range(20):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            "() => { const el = document.activeElement;"
            " return el.labels && el.labels.length ? el.labels[0].innerText"
            " : el.innerText || el.getAttribute('aria-label') || el.tagName; }"
        )
        visited.append(" ".join(str(focused).split()))
        if await save.evaluate("el => el === document.activeElement"):
            break
        if visited[-1].startswith(TOBACCO):
            await page.keyboard.press("Space")  # choose a topic without a mouse
    await expect(save).to_be_focused()
    assert [v.split(" — ")[0] for v in visited] == [
        "Newsroom",  # the header's link home
        "Name (optional, used to greet you)",
        OVERDOSE,
        TOBACCO,
        MENTAL,
        "Send me urgent public-health alerts on my topics as soon as they are published",
        "No pause",  # one stop for the radio group: the checked one
        "English",  # the language: one stop too
        "Send me the news in every language we publish in, not only in mine",
        "Plain text only (no pictures or layout)",
        "Save my preferences",
    ], visited
    # The focus is visible, and Enter on Save submits what the keyboard chose.
    outline = await save.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline == "solid", outline
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_contain_text(f"Added {TOBACCO}")


async def test_delete_my_data(
    page: Page, screenshot: Screenshot, db: asyncpg.Pool, reader: Reader
) -> None:
    await page.goto(reader.preferences_url)
    await page.get_by_role("link", name="Delete my data").click()
    await expect(page.get_by_role("heading", level=1, name="Delete my data")).to_be_visible()
    await expect(page.get_by_text(MASKED)).to_be_visible()
    await screenshot("erase-confirm")

    await page.get_by_role("button", name="Delete my data").click()
    await expect(page.get_by_role("alert")).to_have_text("Tick the box to confirm.")
    tick = page.get_by_label("Yes, delete my data")
    await expect(tick).to_have_accessible_description("Tick the box to confirm.")
    await screenshot("erase-confirm-error")
    assert await subscriber_row(db, reader.subscriber_id) is not None  # nothing deleted yet

    await tick.check()
    await page.get_by_role("button", name="Delete my data").click()
    await expect(page.get_by_role("heading", level=1, name="Your data is deleted")).to_be_visible()
    await screenshot("erased")
    assert await subscriber_row(db, reader.subscriber_id) is None
    assert await db.fetchval("SELECT count(*) FROM subscribers WHERE email = $1", EMAIL) == 0
    # The old link now says so, without a traceback.
    response = await page.goto(reader.preferences_url)
    assert response is not None
    assert response.status == 410
    await expect(page.get_by_text("This link no longer works.")).to_be_visible()


async def test_tampered_link_and_data_download(
    page: Page, screenshot: Screenshot, reader: Reader
) -> None:
    token = reader.preferences_url.rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for url in (
        reader.preferences_url.replace(token, tampered),
        reader.preferences_url.replace(token, token[:-4]),  # cut short by a mail program
        reader.unsubscribe_url.replace("/unsubscribe/", "/preferences/"),  # wrong purpose
    ):
        response = await page.goto(url)
        assert response is not None
        assert response.status == 404, url
        await expect(page.get_by_role("heading", level=1, name="Not found")).to_be_visible()
        await expect(page.get_by_text("This link is not valid.")).to_be_visible()
        await expect(page.get_by_text("use the link in one of our mails")).to_be_visible()
        assert "Traceback" not in await page.content()
    await screenshot("link-not-valid")

    await page.goto(reader.preferences_url)
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download my data").click()
    download = await download_info.value
    assert download.suggested_filename == "my-newsletter-data.json"
    path = await download.path()
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["profile"]["email"] == EMAIL
    assert data["profile"]["status"] == "active"
    assert sorted(t["slug"] for t in data["topics"]) == ["overdose-prevention", "staff"]
    assert [d["subject"] for d in data["deliveries"]] == ["Weekly public health news"]
    assert [d["status"] for d in data["deliveries"]] == ["sent"]

    # The same answer through Playwright's request API: its headers make it a download.
    direct = await page.request.get(f"{reader.preferences_url}/data")
    assert direct.ok
    assert direct.headers["content-type"].startswith("application/json")
    assert direct.headers["content-disposition"] == 'attachment; filename="my-newsletter-data.json"'
    assert direct.headers["cache-control"] == "no-store"
    assert (await direct.json())["profile"]["email"] == EMAIL
