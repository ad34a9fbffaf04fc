"""Preferences by link, one-click unsubscribe, personal data, erasure."""

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.accounts.api_keys import create_api_key
from mailer.addresses import address_hash
from mailer.audience.topics import create_topic
from mailer.tokens import Purpose, Signer
from mailer.web.app import create_app
from tests.support import mailings as support_mailings
from tests.support.factories import SECRET, add_subscribers, digest_mailing, engine_settings
from tests.support.helpers import ClientFactory

Client = TestClient[web.Request, web.Application]
SIGNER = Signer(SECRET)


def link(purpose: Purpose, subscriber_id: int, version: int = 1) -> str:
    return f"/{purpose.value}/{SIGNER.subscriber_token(purpose, subscriber_id, version)}"


@pytest.fixture
async def reader(pool: asyncpg.Pool) -> int:
    overdose = await create_topic(pool, name="Overdose Prevention")
    await create_topic(pool, name="Tobacco Control")
    staff = await create_topic(pool, name="Staff", public=False)
    (subscriber_id,) = await add_subscribers(pool, 1)
    await pool.execute(
        "INSERT INTO subscriber_topics VALUES ($1, $2), ($1, $3)",
        subscriber_id,
        overdose.topic_id,
        staff.topic_id,
    )
    return subscriber_id


@pytest.fixture
async def client(pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    settings = replace(engine_settings(tmp_path), webhook_secrets=("x" * 20,))
    return await aiohttp_client(create_app(settings, pool))


async def test_preference_page_and_saving_shows_what_changed(
    client: Client, pool: asyncpg.Pool, reader: int
) -> None:
    url = link(Purpose.PREFERENCES, reader)
    page = await client.get(url)
    assert page.status == 200
    html = await page.text()
    assert "r••••••@example.org" in html  # masked
    assert 'value="overdose-prevention" checked' in html
    assert "Staff" not in html  # hidden topics are not offered

    saved = await client.post(
        url,
        data={
            "name": "Rita",
            "topics": ["tobacco-control"],
            "pause": "1",
            "plain_text_only": "on",
        },
    )
    assert saved.status == 200
    html = await saved.text()
    for change in (
        "Added Tobacco Control",
        "Removed Overdose Prevention",
        "Name set to Rita",
        "plain text only",
        "Paused until",
    ):
        assert change in html
    row = await pool.fetchrow("SELECT * FROM subscribers")
    assert row is not None
    assert row["name"] == "Rita"
    assert row["plain_text_only"]
    assert row["paused_until"] is not None
    slugs = await pool.fetch(
        "SELECT slug FROM subscriber_topics JOIN topics USING (topic_id) ORDER BY slug"
    )
    assert [s["slug"] for s in slugs] == ["staff", "tobacco-control"]  # hidden one kept
    assert await pool.fetchval("SELECT action FROM consent_events") == "preferences"
    assert await pool.fetchval("SELECT type FROM events") == "subscriber.updated"
    # A paused subscriber is left out of the next digest's fan-out.
    mailing_id = await digest_mailing(pool)
    assert await support_mailings.start_sending(pool, mailing_id) == 0


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"topics": ["staff"]}, "topics"),  # hidden: not theirs to choose
        ({"topics": ["no-such-topic"]}, "topics"),
        ({}, "topics"),  # none at all: unsubscribe instead
        ({"topics": ["tobacco-control"], "name": "x" * 101}, "name"),
        ({"topics": ["tobacco-control"], "name": "a\r\nb"}, "name"),
        ({"topics": ["tobacco-control"], "pause": "12"}, "pause"),
    ],
)
async def test_bad_preference_posts_change_nothing(
    client: Client, pool: asyncpg.Pool, reader: int, form: dict[str, object], field: str
) -> None:
    response = await client.post(link(Purpose.PREFERENCES, reader), data=form)
    assert response.status == 400
    assert 'aria-invalid="true"' in await response.text() or field in ("topics", "pause")
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 0
    assert await pool.fetchval("SELECT name FROM subscribers") == "Reader 0"


async def test_bad_and_revoked_links(client: Client, pool: asyncpg.Pool, reader: int) -> None:
    good = link(Purpose.PREFERENCES, reader)
    token = good.rsplit("/", 1)[1]
    for bad in (token[:-2], token[:-1] + ("A" if token[-1] != "A" else "B"), "garbage", "x" * 200):
        response = await client.get(f"/preferences/{bad}")
        assert response.status == 404
        text = await response.text()
        assert "not valid" in text
        assert "Traceback" not in text
    # A link made for unsubscribing is not a preferences link (and vice versa).
    assert (
        await client.get(f"/preferences/{link(Purpose.UNSUBSCRIBE, reader)[13:]}")
    ).status == 404
    # Another subscriber's id with this token's signature cannot be made.
    other = await client.get(link(Purpose.PREFERENCES, reader + 1))
    assert other.status == 410  # genuine signature, no such subscriber
    await pool.execute("UPDATE subscribers SET key_version = key_version + 1")
    revoked = await client.get(good)
    assert revoked.status == 410
    assert "no longer works" in await revoked.text()
    assert (await client.get(link(Purpose.PREFERENCES, reader, version=2))).status == 200


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
async def test_one_click_unsubscribe(
    client: Client, pool: asyncpg.Pool, reader: int, encoding: str
) -> None:
    await add_subscribers(pool, 2, prefix="other")
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    url = link(Purpose.UNSUBSCRIBE, reader)

    page = await client.get(url)  # a link scanner
    assert page.status == 200
    assert "<button" in await page.text()
    assert (
        await pool.fetchval("SELECT status FROM subscribers WHERE subscriber_id = $1", reader)
        == "active"
    )

    if encoding == "multipart":
        body = aiohttp.FormData()
        body.add_field("List-Unsubscribe", "One-Click")
        body.add_field("x", io.BytesIO(b""), filename="")  # forces multipart/form-data
        response = await client.post(url, data=body, allow_redirects=False)
    else:
        response = await client.post(
            url, data="List-Unsubscribe=One-Click", allow_redirects=False,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
    assert response.status == 200
    assert "Set-Cookie" not in response.headers
    row = await pool.fetchrow(
        "SELECT status, unsubscribed_at FROM subscribers WHERE subscriber_id = $1", reader
    )
    assert row is not None
    assert row["status"] == "unsubscribed"
    assert row["unsubscribed_at"] is not None
    # The digest already queued for them will not reach them.
    queued = await pool.fetchval(
        "SELECT status FROM deliveries WHERE subscriber_id = $1 AND mailing_id = $2",
        reader,
        mailing_id,
    )
    assert queued == "cancelled"
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'queued'") == 2
    ledger = await pool.fetchrow("SELECT action, detail FROM consent_events")
    assert ledger is not None
    assert ledger["action"] == "unsubscribe"
    assert ledger["detail"] == {"one_click": True}
    assert (
        await pool.fetchval("SELECT type FROM events WHERE subject = 'subscriber'")
        == "subscriber.unsubscribed"
    )
    # Twice is harmless.
    assert (await client.post(url, data={"List-Unsubscribe": "One-Click"})).status == 200
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 1


async def test_replayed_form_after_unsubscribing_changes_nothing(
    client: Client, pool: asyncpg.Pool, reader: int
) -> None:
    url = link(Purpose.PREFERENCES, reader)
    assert (await client.post(f"{url}/unsubscribe")).status == 200
    replay = await client.post(url, data={"topics": ["tobacco-control"], "name": "Mallory"})
    assert replay.status == 409
    row = await pool.fetchrow("SELECT status, name FROM subscribers")
    assert row is not None
    assert (row["status"], row["name"]) == ("unsubscribed", "Reader 0")
    page = await (await client.get(url)).text()
    assert "Subscribe again" in page

    again = await client.post(f"{url}/resubscribe")
    assert again.status == 200
    assert await pool.fetchval("SELECT status FROM subscribers") == "active"
    actions = await pool.fetch("SELECT action FROM consent_events ORDER BY consent_event_id")
    assert [a["action"] for a in actions] == ["unsubscribe", "resubscribe"]


async def test_subscribe_again_within_minutes_of_a_confirmation_mail_subscribes_at_once(
    client: Client, pool: asyncpg.Pool, reader: int
) -> None:
    """Sign up, confirm, unsubscribe, press "Subscribe again" within 10 minutes of the
    confirmation mail: the per-address throttle used to leave them pending with no mail
    sent, under "Check your inbox". The signed link proves the mailbox: they are
    subscribed again at once, with the topics and digests they had, and told so."""
    series_id = await pool.fetchval(
        "INSERT INTO series (slug, name, cron, timezone, is_default) "
        "VALUES ('weekly', 'Weekly', '0 9 * * 1', 'UTC', true) RETURNING series_id"
    )
    other = await pool.fetchval(
        "INSERT INTO series (slug, name, cron, timezone) "
        "VALUES ('daily', 'Daily', '0 9 * * *', 'UTC') RETURNING series_id"
    )
    await pool.execute("INSERT INTO subscriber_series VALUES ($1, $2)", reader, other)
    await pool.execute("UPDATE subscribers SET last_notice_at = now() - interval '3 minutes'")
    url = link(Purpose.PREFERENCES, reader)
    assert (await client.post(f"{url}/unsubscribe")).status == 200

    again = await client.post(f"{url}/resubscribe", headers={"User-Agent": "UA/2"})
    assert again.status == 200
    html = await again.text()
    assert "Check your inbox" not in html
    assert "subscribed again" in html
    assert 'value="overdose-prevention" checked' in html  # the preference form is back
    row = await pool.fetchrow("SELECT status, unsubscribed_at, confirmed_at FROM subscribers")
    assert row is not None
    assert (row["status"], row["unsubscribed_at"]) == ("active", None)
    assert row["confirmed_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0  # nothing to wait for
    slugs = await pool.fetch(
        "SELECT slug FROM subscriber_topics JOIN topics USING (topic_id) ORDER BY slug"
    )
    assert [r["slug"] for r in slugs] == ["overdose-prevention", "staff"]
    series = await pool.fetch("SELECT series_id FROM subscriber_series")
    assert [r["series_id"] for r in series] == [other]  # not the default they never chose
    assert series_id != other
    entry = await pool.fetchrow(
        "SELECT action, user_agent, topics, consent_text_hash, detail FROM consent_events "
        "ORDER BY consent_event_id DESC LIMIT 1"
    )
    assert entry is not None
    assert (entry["action"], entry["user_agent"]) == ("resubscribe", "UA/2")
    assert entry["consent_text_hash"] is not None
    assert entry["detail"] == {"proof": "personal link", "was": "unsubscribed"}
    events = await pool.fetch("SELECT type FROM events WHERE subject = 'subscriber' ORDER BY 1")
    assert [e["type"] for e in events] == ["subscriber.confirmed", "subscriber.unsubscribed"]

    twice = await client.post(f"{url}/resubscribe")
    assert twice.status == 200
    assert "subscribed already" in await twice.text()
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 2


async def test_subscribe_again_is_refused_for_an_address_that_bounced(
    client: Client, pool: asyncpg.Pool, reader: int
) -> None:
    url = link(Purpose.PREFERENCES, reader)
    assert (await client.post(f"{url}/unsubscribe")).status == 200
    await pool.execute(
        "INSERT INTO suppressions (email_hash, reason) VALUES ($1, 'hard_bounce')",
        address_hash("reader0@example.org"),
    )
    refused = await client.post(f"{url}/resubscribe")
    assert refused.status == 409
    assert "cannot send mail to this address" in await refused.text()
    assert await pool.fetchval("SELECT status FROM subscribers") == "unsubscribed"


async def test_download_and_delete_my_data(client: Client, pool: asyncpg.Pool, reader: int) -> None:
    url = link(Purpose.PREFERENCES, reader)
    await client.post(url, data={"topics": ["tobacco-control"]}, headers={"User-Agent": "UA/1"})
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)

    download = await client.get(f"{url}/data")
    assert download.status == 200
    assert "attachment" in download.headers["Content-Disposition"]
    data = json.loads(await download.text())
    assert data["profile"]["email"] == "reader0@example.org"
    assert [t["slug"] for t in data["topics"]] == ["staff", "tobacco-control"]
    assert data["consent_ledger"][0]["action"] == "preferences"
    assert data["consent_ledger"][0]["user_agent"] == "UA/1"
    assert data["deliveries"][0]["subject"] == "Weekly public health news"

    not_ticked = await client.post(f"{url}/erase", data={})
    assert not_ticked.status == 400
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 1
    erased = await client.post(f"{url}/erase", data={"confirm": "yes"})
    assert erased.status == 200
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 0
    assert (
        await pool.fetchval(
            "SELECT reason FROM suppressions WHERE email_hash = $1",
            address_hash("reader0@example.org"),
        )
        == "erased"
    )
    leftovers = await pool.fetchrow("SELECT recipient, status FROM deliveries")
    assert leftovers is not None
    assert (leftovers["recipient"], leftovers["status"]) == ("", "cancelled")
    ledger = await pool.fetch("SELECT subscriber_id, user_agent, action FROM consent_events")
    assert all(r["subscriber_id"] is None and r["user_agent"] is None for r in ledger)
    assert sorted(r["action"] for r in ledger) == ["erase", "preferences"]
    everything = json.dumps(
        [dict(r) for r in await pool.fetch("SELECT * FROM events")], default=str
    )
    assert "reader0" not in everything
    assert (await client.get(url)).status == 410


async def test_editor_data_subject_requests(
    client: Client, pool: asyncpg.Pool, reader: int
) -> None:
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "privacy officer", "admin")
    headers = {"Authorization": f"Bearer {key}"}
    found = await client.get("/api/v1/subscribers/data?email=READER0@example.org", headers=headers)
    assert found.status == 200
    assert (await found.json())["profile"]["subscriber_id"] == reader
    missing = await client.get("/api/v1/subscribers/data?email=nobody@example.org", headers=headers)
    assert missing.status == 404
    assert (await client.get("/api/v1/subscribers/data", headers=headers)).status == 400
    erased = await client.post(
        "/api/v1/subscribers/erase", json={"email": "reader0@example.org"}, headers=headers
    )
    assert erased.status == 200
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 0
    by = await pool.fetchval("SELECT payload->>'by' FROM events WHERE type = 'subscriber.erased'")
    assert by == "editor (privacy officer)"


async def test_keeping_a_topic_keeps_it(client: Client, pool: asyncpg.Pool, reader: int) -> None:
    url = link(Purpose.PREFERENCES, reader)
    saved = await client.post(url, data={"topics": ["overdose-prevention", "tobacco-control"]})
    assert saved.status == 200
    slugs = await pool.fetch(
        "SELECT slug FROM subscriber_topics JOIN topics USING (topic_id) ORDER BY slug"
    )
    assert [s["slug"] for s in slugs] == ["overdose-prevention", "staff", "tobacco-control"]


async def test_choosing_digest_series(client: Client, pool: asyncpg.Pool, reader: int) -> None:
    from datetime import UTC, datetime

    from mailer.editorial.series import create_series

    weekly = await create_series(
        pool, name="Weekly", cron="0 9 * * tue", timezone="UTC", now=datetime.now(UTC)
    )
    monthly = await create_series(
        pool, name="Monthly", cron="0 9 1 * *", timezone="UTC", now=datetime.now(UTC)
    )
    await pool.execute("INSERT INTO subscriber_series VALUES ($1, $2)", reader, weekly["series_id"])
    url = link(Purpose.PREFERENCES, reader)
    page = await (await client.get(url)).text()
    assert f'value="{weekly["series_id"]}" checked' in page
    form = {
        "topics": ["overdose-prevention"],
        "series_shown": "1",
        "series": [str(monthly["series_id"])],
    }
    saved = await (await client.post(url, data=form)).text()
    assert "You will receive Monthly" in saved
    assert "You will no longer receive Weekly" in saved
    assert await pool.fetchval("SELECT array_agg(series_id) FROM subscriber_series") == [
        monthly["series_id"]
    ]
    bad = await client.post(url, data={**form, "series": ["999999"]})
    assert bad.status == 400


async def test_garbage_posts_and_addresses_get_a_400_or_404_never_a_500(
    client: Client, pool: asyncpg.Pool, reader: int
) -> None:
    # Form bodies that are not UTF-8 made aiohttp raise UnicodeDecodeError: a 500 page.
    garbage = b"topics=tobacco-control&name=\xff\xfe"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    preferences = link(Purpose.PREFERENCES, reader)
    unsubscribe = link(Purpose.UNSUBSCRIBE, reader)
    for url in (
        preferences,
        f"{preferences}/erase",
        unsubscribe,
        unsubscribe.replace("/unsubscribe/", "/unsubscribe/alerts/"),
    ):
        response = await client.post(url, data=garbage, headers=form)
        assert response.status == 400, url
        assert "could not be read" in await response.text()
    # "²" is a digit to str.isdigit(), but int() refuses it.
    series = await client.post(
        preferences, data={"topics": "tobacco-control", "series_shown": "1", "series": "²"}
    )
    assert series.status == 400
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 0
    assert await pool.fetchval("SELECT status FROM subscribers") == "active"
    # PostgreSQL refuses a NUL byte in text: such an archive address was a 500; now the text
    # guard refuses it (400, naming the slug) before the handler runs.
    for url in ("/archive/items/²", "/archive/a%00b", "/archive/a%00b/body", "/archive/ÄÖ"):
        response = await client.get(url)
        assert response.status == (400 if "%00" in url else 404), url
        assert "Traceback" not in await response.text()


async def test_a_refused_preference_form_comes_back_as_it_was_filled_in(
    client: Client, pool: asyncpg.Pool, reader: int
) -> None:
    # It came back as stored: "Choose at least one topic" beside a ticked box, and the
    # other changes (name, alerts, pause, format) silently undone.
    url = link(Purpose.PREFERENCES, reader)
    form = {"name": "Rita", "alerts_shown": "1", "alerts": "on", "pause": "3"}
    response = await client.post(url, data={**form, "plain_text_only": "on"})
    assert response.status == 400
    html = await response.text()
    assert "Nothing was saved yet" in html
    assert 'value="Rita"' in html
    assert 'value="overdose-prevention" checked' not in html  # unticked, as sent
    assert re.search(r'value="overdose-prevention"\s+aria-invalid="true"', html)
    assert re.search(r'name="alerts"\s+checked', html)
    assert re.search(r'name="pause" value="3"\s+checked', html)
    assert not re.search(r'name="pause" value="keep"\s+checked', html)
    assert re.search(r'name="plain_text_only"\s+checked', html)
    row = await pool.fetchrow("SELECT name, accepts_alerts, paused_until FROM subscribers")
    assert row is not None
    assert (row["name"], row["accepts_alerts"], row["paused_until"]) == ("Reader 0", False, None)
    # An unknown topic (one removed since the page was served): the same.
    unknown = await client.post(url, data={**form, "topics": ["tobacco-control", "gone"]})
    assert unknown.status == 400
    html = await unknown.text()
    assert 'value="tobacco-control" checked' in html and 'value="Rita"' in html


async def test_old_links_say_what_happened_after_unsubscribing_and_erasure(
    client: Client, pool: asyncpg.Pool, reader: int
) -> None:
    unsubscribe = link(Purpose.UNSUBSCRIBE, reader)
    assert (await client.post(unsubscribe)).status == 200
    # It asked "Stop all mail ...?" again, with the button, as if nothing had happened.
    page = await client.get(unsubscribe)
    assert page.status == 200
    html = await page.text()
    assert "already unsubscribed" in html and "<button" not in html
    assert link(Purpose.PREFERENCES, reader) in html  # the way to subscribe again

    erased = await client.post(
        f"{link(Purpose.PREFERENCES, reader)}/erase", data={"confirm": "yes"}
    )
    assert erased.status == 200
    # It said "The links in our newest mail do": no mail will ever come again.
    for answer in (
        await client.get(unsubscribe),
        await client.get(link(Purpose.PREFERENCES, reader)),
    ):
        assert answer.status == 410
        html = await answer.text()
        assert "was deleted" in html and "newest mail" not in html


async def test_signed_up_again_on_the_public_form_they_can_confirm_from_their_link(
    client: Client, pool: asyncpg.Pool, reader: int
) -> None:
    """Unsubscribed, then signed up again on the public form within 10 minutes of the
    last mail: pending, and the throttle sends no new link. Their own preference link
    lets them confirm at once instead of waiting for the slot."""
    url = link(Purpose.PREFERENCES, reader)
    assert (await client.post(f"{url}/unsubscribe")).status == 200
    await pool.execute("UPDATE subscribers SET status = 'pending', last_notice_at = now()")
    page = await (await client.get(url)).text()
    assert "waiting for you to confirm" in page and "Confirm my subscription now" in page
    confirmed = await client.post(f"{url}/resubscribe")
    assert confirmed.status == 200
    assert "subscribed again" in await confirmed.text()
    assert await pool.fetchval("SELECT status FROM subscribers") == "active"
    detail = await pool.fetchval(
        "SELECT detail FROM consent_events ORDER BY consent_event_id DESC LIMIT 1"
    )
    assert detail == {"proof": "personal link", "was": "pending"}
