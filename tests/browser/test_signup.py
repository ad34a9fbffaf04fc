"""The subscriber-facing signup pages in a real browser against a real `mailer serve`:
the hosted form, the confirmation link (with and without JavaScript), form errors, the
embeddable form in a third-party page, and an expired link."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page, Route, expect

from mailer.audience.topics import Topic, create_topic
from mailer.web.public import MIN_FORM_SECONDS
from tests.browser.support import DESKTOP, NOT_LOOPBACK, RunningService, Screenshot
from tests.browser.support import save_screenshots as save_screenshots_of

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

OVERDOSE = "Overdose Prevention"
TOBACCO = "Tobacco Control"
MENTAL = "Mental Health"
CONFIRM_SUBJECT = "Confirm your subscription"
MAIL_WAIT_SECONDS = 10.0


@pytest_asyncio.fixture(loop_scope="session")
async def topics(db: asyncpg.Pool) -> list[Topic]:
    return [
        await create_topic(
            db,
            name=OVERDOSE,
            description="Naloxone, drug checking and harm reduction",
            position=1,
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


@asynccontextmanager
async def page_without_javascript(browser: Browser) -> AsyncIterator[Page]:
    """Like the `page` fixture, with scripts off (as a link scanner or a careful reader)."""
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB", java_script_enabled=False)
    context.set_default_timeout(5_000)

    async def refuse(route: Route) -> None:
        await route.abort("blockedbyclient")

    await context.route(NOT_LOOPBACK, refuse)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def open_form(page: Page, url: str) -> float:
    """Open a signup form; returns when it was served (monotonic), for the bot check."""
    response = await page.goto(url)
    assert response is not None
    assert response.status == 200
    return time.monotonic()


async def wait_like_a_person(served_at: float) -> None:
    """The form treats posts sooner than MIN_FORM_SECONDS after serving as a bot's."""
    await asyncio.sleep(max(0.0, served_at + MIN_FORM_SECONDS + 0.1 - time.monotonic()))


async def fill_form(page: Page, *, email: str, name: str, topics: Sequence[str]) -> None:
    await page.get_by_role("textbox", name="Email address").fill(email)
    await page.get_by_role("textbox", name="Name (optional)").fill(name)
    for topic in topics:
        await page.get_by_role("checkbox", name=topic).check()


async def sign_up_in(page: Page, base_url: str, *, email: str, name: str) -> None:
    """A signup through the hosted form, the way a person makes it."""
    served_at = await open_form(page, f"{base_url}/subscribe")
    await fill_form(page, email=email, name=name, topics=[OVERDOSE])
    await wait_like_a_person(served_at)
    await page.get_by_role("button", name="Subscribe").click()
    await expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()


async def confirmation_link(page: Page, base_url: str, recipient: str, *, after: int = 0) -> str:
    """The /confirm/<token> link of the newest confirmation mail to `recipient` in the
    outbox, once more than `after` such mails are there (the worker sends within seconds)."""
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while True:
        listing = await page.request.get(f"{base_url}/dev/outbox.json")
        assert listing.ok, await listing.text()
        mails = [
            m
            for m in (await listing.json())["messages"]
            if recipient.casefold() in m["recipients"].casefold()
            and m["subject"].startswith(CONFIRM_SUBJECT)
        ]
        if len(mails) > after:
            break
        assert time.monotonic() < deadline, f"no confirmation mail to {recipient}: {listing}"
        await asyncio.sleep(0.2)
    text = await page.request.get(f"{base_url}/dev/outbox/{mails[0]['key']}/text")
    assert text.ok
    body = await text.text()
    match = re.search(r"(https?://\S+/confirm/[A-Za-z0-9_-]+)", body)
    assert match, body
    link = match.group(1)
    assert link.startswith(f"{base_url}/confirm/"), link
    return link


async def subscriber(db: asyncpg.Pool, email: str) -> tuple[str, list[str]] | None:
    """(status, topic slugs) of the subscriber with this address, if any."""
    row = await db.fetchrow(
        "SELECT s.status, array_remove(array_agg(t.slug ORDER BY t.slug), NULL) AS slugs "
        "FROM subscribers s LEFT JOIN subscriber_topics USING (subscriber_id) "
        "LEFT JOIN topics t USING (topic_id) WHERE s.email_key = lower($1) GROUP BY s.status",
        email,
    )
    return None if row is None else (row["status"], list(row["slugs"]))


async def test_hosted_form_signup_and_confirmation_by_script(
    service: RunningService,
    page: Page,
    screenshot: Screenshot,
    db: asyncpg.Pool,
    topics: list[Topic],
) -> None:
    served_at = await open_form(page, f"{service.base_url}/subscribe")
    await expect(page.get_by_role("heading", level=1, name="Join our email list")).to_be_visible()
    await expect(page.get_by_role("link", name="Newsroom")).to_be_visible()  # the site header
    email = page.get_by_label("Email address")
    await expect(email).to_have_attribute("type", "email")
    await expect(email).to_have_attribute("autocomplete", "email")
    await expect(page.get_by_label("Name (optional)")).to_be_visible()
    group = page.get_by_role("group", name="Topics")
    await expect(group.get_by_role("checkbox")).to_have_count(3)  # public topics only
    for topic in (OVERDOSE, TOBACCO, MENTAL):
        await expect(group.get_by_role("checkbox", name=topic)).not_to_be_checked()
    await expect(group.get_by_label(re.compile("drug checking"))).to_be_visible()
    await expect(page.get_by_text("Staff Bulletin")).to_have_count(0)
    await expect(page.get_by_text("I can unsubscribe at any time")).to_be_visible()
    # Every input a person can reach has a label of its own (the honeypot too, hidden).
    unlabelled = await page.locator("input:not([type=hidden])").evaluate_all(
        "inputs => inputs.filter(i => !Array.from(i.labels || [])"
        ".some(l => l.textContent.trim())).map(i => i.outerHTML)"
    )
    assert unlabelled == []
    await expect(page.locator("input[name=website]")).not_to_be_in_viewport()
    await screenshot("subscribe-form")

    await fill_form(page, email="Zoe@Example.org", name="Zoë", topics=[OVERDOSE, MENTAL])
    await wait_like_a_person(served_at)
    await page.get_by_role("button", name="Subscribe").click()
    await expect(page.get_by_role("heading", level=1, name="Check your inbox")).to_be_visible()
    assert page.url == f"{service.base_url}/subscribe/thanks"
    await screenshot("subscribe-thanks")
    assert await subscriber(db, "zoe@example.org") == (
        "pending",
        ["mental-health", "overdose-prevention"],
    )

    link = await confirmation_link(page, service.base_url, "zoe@example.org")
    await page.goto(link)  # the page confirms by POST on its own: no click
    await expect(page.get_by_role("heading", level=1, name="Welcome, Zoë!")).to_be_visible()
    preferences = page.get_by_role("link", name="Manage your preferences")
    await expect(preferences).to_have_attribute(
        "href", re.compile(rf"^{re.escape(service.base_url)}/preferences/\S+$")
    )
    await screenshot("confirm-welcome")
    assert await subscriber(db, "zoe@example.org") == (
        "active",
        ["mental-health", "overdose-prevention"],
    )

    await page.goto(link)  # single use: the link now says so, confirming nothing again
    await expect(page.get_by_role("heading", name="You're already subscribed")).to_be_visible()
    assert await db.fetchval("SELECT count(*) FROM consent_events WHERE action = 'confirm'") == 1


async def test_confirmation_without_javascript_waits_for_the_button(
    service: RunningService, browser: Browser, db: asyncpg.Pool, topics: list[Topic]
) -> None:
    async with page_without_javascript(browser) as page:
        await sign_up_in(page, service.base_url, email="ana@example.org", name="Ana")
        link = await confirmation_link(page, service.base_url, "ana@example.org")

        response = await page.goto(link)
        assert response is not None
        assert response.status == 200
        assert response.headers["cache-control"] == "no-store"
        await expect(page.get_by_role("heading", name="Confirm your subscription")).to_be_visible()
        await expect(page.get_by_role("status")).to_have_text(re.compile("One more step"))
        button = page.get_by_role("button", name="Confirm my subscription")
        await expect(button).to_be_visible()
        await save_screenshots_of(page, "confirm-nojs")
        await asyncio.sleep(0.3)  # give a wrongly self-confirming page the time to do so
        assert await subscriber(db, "ana@example.org") == ("pending", ["overdose-prevention"])

        await button.click()
        await expect(page.get_by_role("heading", name="Welcome, Ana!")).to_be_visible()
        await expect(page.get_by_role("link", name="Manage your preferences")).to_be_visible()
        assert await subscriber(db, "ana@example.org") == ("active", ["overdose-prevention"])


async def submit(page: Page) -> int:
    """Click Subscribe; the HTTP status of the post (a redirect is followed afterwards)."""
    async with page.expect_response(lambda r: r.request.method == "POST") as posted:
        await page.get_by_role("button", name="Subscribe").click()
    return (await posted.value).status


async def test_form_errors_are_shown_next_to_the_fields(
    service: RunningService,
    page: Page,
    screenshot: Screenshot,
    db: asyncpg.Pool,
    topics: list[Topic],
) -> None:
    await open_form(page, f"{service.base_url}/subscribe")
    await fill_form(page, email="zoe.example.org", name="Zoë", topics=[])
    # A stamp that is not ours (tampered, or from a key since rotated): fill it in again.
    await page.locator("input[name=stamp]").evaluate("stamp => { stamp.value = 'AAAA' }")
    assert await submit(page) == 400
    served_at = time.monotonic()  # every answer is a fresh form with a new stamp
    await expect(page.get_by_role("alert")).to_have_text(
        "The form expired; please fill it in again."
    )
    email = page.get_by_role("textbox", name="Email address")
    name = page.get_by_role("textbox", name="Name (optional)")
    await expect(email).to_have_value("zoe.example.org")

    await wait_like_a_person(served_at)
    assert await submit(page) == 400
    served_at = time.monotonic()
    await expect(page.get_by_role("alert")).to_have_count(0)
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_have_accessible_description(re.compile("@-sign"))
    await expect(page.locator("#email-error")).to_be_visible()
    await expect(email).to_have_value("zoe.example.org")  # what was typed stays
    await expect(name).to_have_value("Zoë")
    await expect(name).not_to_have_attribute("aria-invalid", "true")
    await screenshot("subscribe-errors-email")
    assert await db.fetchval("SELECT count(*) FROM subscribers") == 0
    assert await db.fetchval("SELECT count(*) FROM deliveries") == 0

    # The address corrected on the page that showed the error, still no topic.
    await email.fill("zoe@example.org")
    await wait_like_a_person(served_at)
    assert await submit(page) == 400
    served_at = time.monotonic()
    group = page.get_by_role("group", name="Topics")
    await expect(group).to_have_accessible_description("Choose at least one topic.")
    await expect(group.get_by_role("checkbox")).to_have_count(3)
    for checkbox in await group.get_by_role("checkbox").all():
        await expect(checkbox).to_have_attribute("aria-invalid", "true")
        await expect(checkbox).not_to_be_checked()
    await expect(email).not_to_have_attribute("aria-invalid", "true")
    await expect(email).to_have_value("zoe@example.org")
    await expect(name).to_have_value("Zoë")
    await screenshot("subscribe-errors")
    assert await db.fetchval("SELECT count(*) FROM subscribers") == 0
    assert await db.fetchval("SELECT count(*) FROM deliveries") == 0

    await group.get_by_role("checkbox", name=TOBACCO).check()
    await wait_like_a_person(served_at)
    assert await submit(page) == 303
    await expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert await subscriber(db, "zoe@example.org") == ("pending", ["tobacco-control"])

    # Posted sooner than a person could (autofill and Enter): never "check your inbox" with
    # no mail coming; the form, filled in, asks to press Subscribe again, and that works.
    await open_form(page, f"{service.base_url}/subscribe")
    await fill_form(page, email="quick@example.org", name="", topics=[TOBACCO])
    assert await submit(page) == 400
    await expect(page.get_by_role("alert")).to_contain_text("then press Subscribe")
    await expect(page.get_by_role("textbox", name="Email address")).to_have_value(
        "quick@example.org"
    )
    assert await subscriber(db, "quick@example.org") is None
    served_at = time.monotonic()
    await wait_like_a_person(served_at)
    assert await submit(page) == 303
    await expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    await expect(page.get_by_text("quick@example.org")).to_be_visible()  # named
    assert await subscriber(db, "quick@example.org") == ("pending", ["tobacco-control"])


async def test_form_reports_every_problem_at_once(
    service: RunningService, page: Page, db: asyncpg.Pool, topics: list[Topic]
) -> None:
    served_at = await open_form(page, f"{service.base_url}/subscribe")
    await fill_form(page, email="zoe.example.org", name="Zoë", topics=[])
    await wait_like_a_person(served_at)
    assert await submit(page) == 400
    await expect(page.get_by_role("textbox", name="Email address")).to_have_attribute(
        "aria-invalid", "true"
    )
    await expect(page.get_by_role("group", name="Topics")).to_have_accessible_description(
        "Choose at least one topic.", timeout=1_000
    )


HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Health news</title></head>
<body style="margin:0;font-family:Georgia,serif;background:#f3efe6">
<header style="background:#203040;color:#fff;padding:1rem">Public Health Today</header>
<article style="padding:1rem"><h1>Naloxone in every pharmacy</h1>
<p>Our reporting continues. Sign up below to hear first.</p></article>
<iframe title="Newsletter signup" src="{src}"
        style="display:block;width:100%;max-width:40rem;height:56rem;border:0;margin:0 auto;
               background:#fff"></iframe>
</body></html>"""


@asynccontextmanager
async def third_party_site(html: str) -> AsyncIterator[str]:
    """Another site on 127.0.0.1 (its own port) serving one page; yields its URL."""

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


async def test_embeddable_form_in_another_sites_iframe(
    service: RunningService,
    page: Page,
    screenshot: Screenshot,
    db: asyncpg.Pool,
    topics: list[Topic],
) -> None:
    embed_url = f"{service.base_url}/subscribe/embed"
    direct = await page.request.get(embed_url)
    assert direct.status == 200
    assert direct.headers["content-security-policy"] == "frame-ancestors *"
    assert "x-frame-options" not in direct.headers
    hosted = await page.request.get(f"{service.base_url}/subscribe")
    assert hosted.headers["x-frame-options"] == "SAMEORIGIN"  # only the embed may be framed

    async with third_party_site(HOST_PAGE.format(src=embed_url)) as site_url:
        assert not site_url.startswith(service.base_url)
        await page.goto(site_url)
        served_at = time.monotonic()
        frame = page.frame_locator("iframe[title='Newsletter signup']")
        await expect(frame.get_by_role("heading", name="Join our email list")).to_be_visible()
        await expect(frame.get_by_role("textbox", name="Email address")).to_be_visible()
        await expect(frame.get_by_role("checkbox", name=TOBACCO)).to_be_visible()
        await expect(frame.get_by_role("button", name="Subscribe")).to_be_visible()
        await expect(frame.get_by_role("link", name="Newsroom")).to_be_hidden()  # no site header
        await screenshot("subscribe-embedded")

        await frame.get_by_role("textbox", name="Email address").fill("reader@example.org")
        await frame.get_by_role("checkbox", name=TOBACCO).check()
        await wait_like_a_person(served_at)
        async with page.expect_response(lambda r: r.request.method == "POST") as posted:
            await frame.get_by_role("button", name="Subscribe").click()
        answer = await posted.value
        assert answer.url == embed_url
        assert answer.status == 303
        assert answer.headers["location"] == "/subscribe/thanks?embed=1"
    assert await subscriber(db, "reader@example.org") == ("pending", ["tobacco-control"])


async def test_embedded_form_thanks_page_shows_in_the_frame(
    service: RunningService, page: Page, screenshot: Screenshot
) -> None:
    thanks_url = f"{service.base_url}/subscribe/thanks?embed=1"
    async with third_party_site(HOST_PAGE.format(src=thanks_url)) as site_url:
        await page.goto(site_url)
        frame = page.frame_locator("iframe[title='Newsletter signup']")
        await expect(frame.get_by_role("heading", name="Check your inbox")).to_be_visible(
            timeout=1_500
        )
        await expect(frame.get_by_role("link", name="try again")).to_have_attribute(
            "href", "/subscribe/embed"
        )
        await screenshot("subscribe-embedded-thanks")


async def test_expired_link_offers_a_new_one(
    service: RunningService,
    page: Page,
    screenshot: Screenshot,
    db: asyncpg.Pool,
    topics: list[Topic],
) -> None:
    await sign_up_in(page, service.base_url, email="late@example.org", name="Lou")
    link = await confirmation_link(page, service.base_url, "late@example.org")
    await db.execute("UPDATE confirmations SET expires_at = now() - interval '1 minute'")

    response = await page.goto(link)
    assert response is not None
    assert response.status == 410
    await expect(page.get_by_role("heading", level=1, name="This link has expired")).to_be_visible()
    resend = page.get_by_role("button", name="Send me a new link")
    await expect(resend).to_be_visible()
    await screenshot("confirm-expired")
    assert await subscriber(db, "late@example.org") == ("pending", ["overdose-prevention"])

    await db.execute("UPDATE subscribers SET last_notice_at = NULL")  # past the throttle
    await resend.click()
    await expect(page.get_by_role("heading", name="A new link is on its way")).to_be_visible()
    fresh = await confirmation_link(page, service.base_url, "late@example.org", after=1)
    assert fresh != link
    await page.goto(fresh)
    await expect(page.get_by_role("heading", name="Welcome, Lou!")).to_be_visible()
    assert await subscriber(db, "late@example.org") == ("active", ["overdose-prevention"])
