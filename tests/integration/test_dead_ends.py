"""Every subscriber page leads somewhere: the form's anti-bot timer never answers "check your
inbox" without a mail, the thanks page names the address and can send again, the welcome
page says what comes next, and a broken link offers "Mail me a new link"."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.audience.topics import create_topic
from mailer.tokens import Signer
from mailer.web.app import create_app
from tests.support.console import visible_text
from tests.support.factories import SECRET as SECRET_KEY
from tests.support.factories import engine_settings, running_worker
from tests.support.helpers import ClientFactory
from tests.support.smtp_sink import SmtpSink

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    await create_topic(pool, name="Overdose Prevention", position=1)
    await create_topic(pool, name="Tobacco Control", position=2)
    settings = engine_settings(tmp_path, base_url="http://127.0.0.1:8080", signup_rate_per_ip=30)
    return await aiohttp_client(create_app(settings, pool))


def stamp(age: float) -> str:
    return Signer(SECRET_KEY).form_stamp(int(time.time() - age))


async def test_a_form_sent_within_two_seconds_is_checked_not_silently_dropped(
    client: Client, pool: asyncpg.Pool
) -> None:
    bad = {"email": "not an address", "topics": "overdose-prevention", "stamp": stamp(0)}
    refused = await client.post("/subscribe", data=bad, allow_redirects=False)
    assert refused.status == 400
    text = visible_text(await refused.text())
    assert "Check your inbox" not in text
    assert 'value="not an address"' in await refused.text()
    good = {"email": "fast@example.org", "topics": "overdose-prevention", "stamp": stamp(0)}
    again = await client.post("/subscribe", data=good, allow_redirects=False)
    assert again.status == 400
    assert "then press Subscribe" in await again.text()
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 0
    # A honeypot bot still learns nothing.
    bot = {**good, "website": "spam", "stamp": stamp(10)}
    assert (await client.post("/subscribe", data=bot, allow_redirects=False)).status == 303


async def test_thanks_names_the_address_and_sends_again(client: Client, pool: asyncpg.Pool) -> None:
    form = {"email": "zoe@example.org", "topics": "overdose-prevention", "stamp": stamp(10)}
    posted = await client.post("/subscribe", data=form)
    html = await posted.text()
    assert posted.url.path == "/subscribe/thanks"
    assert "zoe@example.org" in visible_text(html)
    assert 'action="/new-link"' in html and "Send the mail again" in html
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE kind = 'confirm'") == 1
    await pool.execute("UPDATE subscribers SET last_notice_at = now() - interval '11 minutes'")
    resent = await client.post("/new-link", data={"email": "zoe@example.org"})
    assert resent.status == 200
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE kind = 'confirm'") == 2
    # Without the cookie (another browser), the page names nobody.
    client.session.cookie_jar.clear()
    plain = await (await client.get("/subscribe/thanks")).text()
    assert "zoe@example.org" not in plain


async def test_new_link_answers_alike_and_mails_only_known_addresses(
    client: Client, pool: asyncpg.Pool
) -> None:
    form = {"email": "known@example.org", "topics": "overdose-prevention", "stamp": stamp(10)}
    await client.post("/subscribe", data=form)
    await pool.execute(
        "UPDATE subscribers SET status = 'active', last_notice_at = NULL, confirmed_at = now()"
    )
    before = await pool.fetchval("SELECT count(*) FROM deliveries")
    known = await client.post("/new-link", data={"email": "Known@example.org"})
    unknown = await client.post("/new-link", data={"email": "stranger@example.org"})
    assert known.status == unknown.status == 200

    def answer(html: str, address: str) -> str:
        return visible_text(html).replace(address, "ADDRESS")

    assert answer(await known.text(), "Known@example.org") == answer(
        await unknown.text(), "stranger@example.org"
    )
    rows = await pool.fetch("SELECT kind, recipient FROM deliveries ORDER BY delivery_id")
    assert len(rows) == before + 1
    assert (rows[-1]["kind"], rows[-1]["recipient"]) == ("link", "known@example.org")
    # A second ask within 10 minutes sends nothing more, and says the same.
    again = await client.post("/new-link", data={"email": "known@example.org"})
    assert again.status == 200
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == before + 1
    invalid = await client.post("/new-link", data={"email": "nope"})
    assert invalid.status == 400
    assert "like name@example.org" in await invalid.text()


async def test_new_link_is_rate_limited_per_network(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    settings = replace(engine_settings(tmp_path), signup_rate_per_ip=2)
    client = await aiohttp_client(create_app(settings, pool))
    statuses = [
        (await client.post("/new-link", data={"email": f"a{i}@example.org"})).status
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


async def test_broken_personal_links_offer_a_new_link(client: Client) -> None:
    for path in (
        "/preferences/garbled",
        "/unsubscribe/garbled",
        "/unsubscribe/alerts/garbled",
        "/confirm/garbled",
    ):
        page = await client.get(path)
        html = await page.text()
        assert page.status in (404, 410), path
        assert 'action="/new-link"' in html, path
        assert "Mail me a new link" in html, path
    form = await client.get("/new-link")
    assert form.status == 200
    assert "Mail me a new link" in await form.text()


async def test_the_welcome_page_lists_topics_first_digest_and_archive(
    client: Client, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    from mailer.editorial import series

    form = {
        "email": "new@example.org",
        "topics": ["overdose-prevention", "tobacco-control"],
        "stamp": stamp(10),
    }
    await client.post("/subscribe", data=form)
    made = await series.create_series(
        pool, name="Weekly", cron="0 9 * * 1", timezone="UTC", now=datetime.now(UTC),
        is_default=True,
    )  # fmt: skip
    when = datetime.now(UTC) + timedelta(days=3)
    await pool.execute(
        "UPDATE series SET next_run_at = $1 WHERE series_id = $2",
        when.replace(microsecond=0),
        made["series_id"],
    )
    from tests.integration.test_signup import confirm_links  # the links as the worker makes them

    (link,) = await confirm_links(pool, tmp_path)
    page = await client.post(link)
    text = visible_text(await page.text())
    assert page.status == 200
    assert "Overdose Prevention" in text and "Tobacco Control" in text
    assert 'href="/archive"' in await page.text()
    assert f"Your first digest is due on {when.strftime('%d %B %Y')}" in text


async def test_the_new_link_mail_carries_a_working_preference_link(
    client: Client, pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    form = {"email": "reader@example.org", "topics": "overdose-prevention", "stamp": stamp(10)}
    await client.post("/subscribe", data=form)
    await pool.execute("DELETE FROM deliveries")
    await pool.execute(
        "UPDATE subscribers SET status = 'active', last_notice_at = NULL, confirmed_at = now()"
    )
    assert (await client.post("/new-link", data={"email": "reader@example.org"})).status == 200
    settings = engine_settings(tmp_path, base_url="http://127.0.0.1:8080")
    async with running_worker(pool, db_url, smtp_sink, settings):
        (mail,) = await smtp_sink.wait_for(1)
    text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"http://127\.0\.0\.1:8080(/preferences/\S+)", text)
    assert found, text
    page = await client.get(found.group(1))
    assert page.status == 200
    assert "Your preferences" in await page.text()


async def test_public_page_titles_name_the_organisation(client: Client) -> None:
    for path in ("/archive", "/subscribe", "/new-link"):
        html = await (await client.get(path)).text()
        title = re.search(r"<title>([^<]*)</title>", html)
        assert title, path
        assert title.group(1).endswith("· Newsroom"), title.group(1)
        assert "mailer" not in title.group(1)
