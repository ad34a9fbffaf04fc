"""Accepting alerts: off unless the signup says so, a checkbox on the hosted form and the
preference page, and the alerts-only unsubscribe link."""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from mailer.signatures import sign
from mailer.tokens import Purpose, Signer
from mailer.web.app import create_app
from tests.support.factories import SECRET, engine_settings
from tests.support.helpers import ClientFactory
from tests.support.newsroom import WEBHOOK_SECRET, Client, add_item, add_reader, make_topics

SIGNER = Signer(SECRET)


@pytest.fixture
async def topics(pool: asyncpg.Pool) -> dict[str, int]:
    return await make_topics(pool)


@pytest.fixture
async def client(pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    settings = replace(engine_settings(tmp_path), webhook_secrets=(WEBHOOK_SECRET,))
    return await aiohttp_client(create_app(settings, pool))


async def signup(client: Client, **fields: object) -> int:
    body = json.dumps({"email": "zoe@example.org", "topics": ["overdose-prevention"], **fields})
    raw = body.encode()
    response = await client.post(
        "/webhooks/signup",
        data=io.BytesIO(raw),
        headers={"Content-Type": "application/json", "Mailer-Signature": sign(WEBHOOK_SECRET, raw)},
    )
    return response.status


async def accepts(pool: asyncpg.Pool, email: str = "zoe@example.org") -> bool | None:
    value = await pool.fetchval("SELECT accepts_alerts FROM subscribers WHERE email = $1", email)
    return None if value is None else bool(value)


async def test_signup_accepts_alerts_only_when_it_says_so(
    client: Client, pool: asyncpg.Pool, topics: dict[str, int]
) -> None:
    assert await signup(client, alerts="maybe") == 400
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 0
    assert await signup(client) == 202
    assert await accepts(pool) is False
    await pool.execute("UPDATE subscribers SET last_notice_at = NULL")
    assert await signup(client, alerts=True) == 202  # still pending: the new choice counts
    assert await accepts(pool) is True
    detail = await pool.fetchval(
        "SELECT detail FROM consent_events ORDER BY consent_event_id DESC LIMIT 1"
    )
    assert detail == {"alerts": True}


async def test_the_hosted_form_has_an_alerts_checkbox(
    client: Client, pool: asyncpg.Pool, topics: dict[str, int]
) -> None:
    page = await (await client.get("/subscribe")).text()
    assert 'name="alerts"' in page and "urgent public-health alerts" in page
    form = {
        "email": "form@example.org",
        "topics": "overdose-prevention",
        "alerts": "on",
        "stamp": SIGNER.form_stamp(int(time.time()) - 10),
    }
    response = await client.post("/subscribe", data=form, allow_redirects=False)
    assert response.status == 303
    assert await accepts(pool, "form@example.org") is True
    unticked = {**form, "email": "plain@example.org"}
    del unticked["alerts"]
    await client.post("/subscribe", data=unticked, allow_redirects=False)
    assert await accepts(pool, "plain@example.org") is False


async def test_the_preference_page_turns_alerts_on_and_off(
    client: Client, pool: asyncpg.Pool, topics: dict[str, int]
) -> None:
    overdose = topics["overdose-prevention"]
    reader = await add_reader(pool, "rita@example.org", [overdose])
    url = f"/preferences/{SIGNER.subscriber_token(Purpose.PREFERENCES, reader, 1)}"
    page = await (await client.get(url)).text()
    assert re.search(r'name="alerts"\s*>', page)  # offered, not ticked
    form = {"topics": "overdose-prevention", "alerts_shown": "1", "alerts": "on"}
    saved = await (await client.post(url, data=form)).text()
    assert "You will receive urgent alerts" in saved
    assert re.search(r'name="alerts"\s*checked>', saved)
    assert await accepts(pool, "rita@example.org") is True
    payload = await pool.fetchval("SELECT payload FROM events ORDER BY event_id DESC LIMIT 1")
    assert payload["alerts"] is True
    # An alert queued for them, then they change their mind: it is not sent.
    await add_item(pool, "Warning", [overdose])
    await pool.execute(
        "INSERT INTO mailings (mailing_id, kind, status, subject, list_id) "
        "VALUES (900, 'alert', 'sending', 'x', 'x')"
    )
    await pool.execute(
        "INSERT INTO deliveries (mailing_id, subscriber_id, kind, recipient) "
        "VALUES (900, $1, 'alert', 'rita@example.org')",
        reader,
    )
    old_form = {"topics": "overdose-prevention"}  # a form from before alerts existed
    assert "Nothing changed" in await (await client.post(url, data=old_form)).text()
    off = await (await client.post(url, data={**form, "alerts": ""})).text()
    assert "You will no longer receive alerts" in off
    assert await accepts(pool, "rita@example.org") is False
    assert await pool.fetchval("SELECT status FROM deliveries") == "cancelled"


async def test_the_alerts_only_unsubscribe_link(
    client: Client, pool: asyncpg.Pool, topics: dict[str, int]
) -> None:
    reader = await add_reader(
        pool, "rita@example.org", [topics["overdose-prevention"]], alerts=True
    )
    url = f"/unsubscribe/alerts/{SIGNER.subscriber_token(Purpose.UNSUBSCRIBE, reader, 1)}"
    page = await client.get(url)
    assert page.status == 200 and "Stop urgent alerts" in await page.text()
    assert await accepts(pool, "rita@example.org") is True  # GET changes nothing
    done = await client.post(url)
    assert done.status == 200 and "Your digests keep coming" in await done.text()
    row = await pool.fetchrow("SELECT status, accepts_alerts FROM subscribers")
    assert row is not None and row["status"] == "active" and row["accepts_alerts"] is False
    entry = await pool.fetchrow("SELECT action, source, detail FROM consent_events")
    assert entry is not None and entry["action"] == "preferences"
    assert entry["source"] == "alert unsubscribe page"
    assert (await client.post(url)).status == 200  # twice is harmless
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 1
    assert (await client.get("/unsubscribe/alerts/forged-token")).status == 404
    preferences_token = SIGNER.subscriber_token(Purpose.PREFERENCES, reader, 1)
    assert (await client.get(f"/unsubscribe/alerts/{preferences_token}")).status == 404
