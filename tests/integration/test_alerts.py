"""Urgent alerts end to end: drafted with a recipient count, confirmed, delivered by a real
worker to a real SMTP sink ahead of a digest that is sending, never repeated in a digest."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from mailer.addresses import address_key
from mailer.config import Settings
from mailer.editorial import alerts, digests
from mailer.editorial.notices import AudienceChanged
from mailer.errors import Conflict, NotFound
from mailer.web.app import create_app
from tests.support.factories import add_subscribers, engine_settings, running_worker, wait_until
from tests.support.helpers import ClientFactory
from tests.support.newsroom import (
    WEBHOOK_SECRET,
    Client,
    add_item,
    add_reader,
    counts,
    editor_headers,
    make_series,
    make_topics,
    mark_sent,
)
from tests.support.smtp_sink import SmtpSink

EDITOR = "test editor"


@pytest.fixture
async def topics(pool: asyncpg.Pool) -> dict[str, int]:
    return await make_topics(pool)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return replace(engine_settings(tmp_path), webhook_secrets=(WEBHOOK_SECRET,))


@pytest.fixture
async def client(pool: asyncpg.Pool, settings: Settings, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(create_app(settings, pool))


async def _status(pool: asyncpg.Pool, mailing_id: int) -> str:
    return str(await pool.fetchval("SELECT status FROM mailings WHERE mailing_id = $1", mailing_id))


async def test_an_alert_reaches_only_alert_accepting_active_subscribers_of_its_topics(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, settings: Settings, client: Client,
    topics: dict[str, int],
) -> None:  # fmt: skip
    overdose, tobacco = topics["overdose-prevention"], topics["tobacco-control"]
    item = await add_item(pool, "Contaminated supply in the north", [overdose])
    await add_reader(pool, "ana@example.org", [overdose], alerts=True, name="Ana")
    await add_reader(pool, "ben@example.org", [overdose])  # digests only
    await add_reader(pool, "cy@example.org", [tobacco], alerts=True)  # another topic
    await add_reader(pool, "dee@example.org", [overdose], alerts=True, status="unsubscribed")
    await add_reader(pool, "fay@example.org", [overdose, tobacco], alerts=True, status="suppressed")
    await add_reader(pool, "gil@example.org", [overdose], alerts=True, status="pending")
    eve = await add_reader(pool, "eve@example.org", [overdose], alerts=True)
    await pool.execute(
        "UPDATE subscribers SET paused_until = now() + interval '30 days' WHERE subscriber_id = $1",
        eve,
    )
    h = await editor_headers(pool)

    drafted = await client.post("/api/v1/alerts", json={"item_id": item}, headers=h)
    assert drafted.status == 201, await drafted.text()
    draft = await drafted.json()
    assert draft["recipients"] == 1 and draft["status"] == "draft"
    assert draft["subject"] == "[Alert] Contaminated supply in the north"
    alert_id = draft["alert_id"]
    assert draft["confirm"] == {
        "method": "POST", "path": f"/api/v1/alerts/{alert_id}/send", "body": {"confirm": 1},
    }  # fmt: skip
    # Drafting again reuses the draft (no second alert).
    again = await client.post("/api/v1/alerts", json={"item_id": item}, headers=h)
    assert again.status == 200 and (await again.json())["alert_id"] == alert_id
    preview = await client.get(f"/api/v1/alerts/{alert_id}/preview?format=text", headers=h)
    assert "Contaminated supply in the north" in await preview.text()

    # Not without the count the editor was shown.
    unconfirmed = await client.post(f"/api/v1/alerts/{alert_id}/send", json={}, headers=h)
    assert unconfirmed.status == 400
    assert "confirm" in (await unconfirmed.json())["error"]["fields"]
    wrong = await client.post(f"/api/v1/alerts/{alert_id}/send", json={"confirm": 5}, headers=h)
    assert wrong.status == 409
    assert "goes to 1 person, not 5" in (await wrong.json())["error"]["message"]
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0

    sent = await client.post(f"/api/v1/alerts/{alert_id}/send", json={"confirm": 1}, headers=h)
    assert sent.status == 202 and (await sent.json())["recipients"] == 1
    twice = await client.post(f"/api/v1/alerts/{alert_id}/send", json={"confirm": 1}, headers=h)
    assert twice.status == 409

    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(1)
        await wait_until(lambda: _is(pool, alert_id, "sent"))
    assert smtp_sink.recipients() == ["ana@example.org"]
    message = smtp_sink.received[0].message
    assert message["Subject"] == "[Alert] Contaminated supply in the north"
    assert message["List-Id"] == "Newsroom alerts <alerts.health.example.org>"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hello Ana," in text and "URGENT ALERT" in text
    # Its own stream: List-Unsubscribe stops alerts only.
    stop = re.fullmatch(r"<https://news\.example\.org(/unsubscribe/alerts/\S+)>, <mailto:\S+>",
                        message["List-Unsubscribe"])  # fmt: skip
    assert stop is not None
    one_click = await client.post(stop.group(1), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status == 200
    ana = await pool.fetchrow("SELECT status, accepts_alerts FROM subscribers WHERE email_key = $1",
                              address_key("ana@example.org"))  # fmt: skip
    assert ana is not None and ana["status"] == "active" and ana["accepts_alerts"] is False

    types = [r["type"] for r in await pool.fetch(
        "SELECT type FROM events WHERE subject = 'alert' ORDER BY event_id")]  # fmt: skip
    assert types == ["alert.drafted", "alert.sending", "alert.sent"]
    listed = await (await client.get("/api/v1/alerts?status=sent", headers=h)).json()
    assert [a["alert_id"] for a in listed["alerts"]] == [alert_id]
    assert listed["alerts"][0]["sent"] == 1
    # The public archive has its web version.
    slug = await pool.fetchval("SELECT slug FROM mailings WHERE mailing_id = $1", alert_id)
    assert f"/archive/{slug}" in await (await client.get("/archive")).text()
    body = await (await client.get(f"/archive/{slug}/body")).text()
    assert "Contaminated supply in the north" in body and "/unsubscribe/" not in body


async def _is(pool: asyncpg.Pool, mailing_id: int, status: str) -> bool:
    return await _status(pool, mailing_id) == status


async def test_an_alert_overtakes_a_digest_that_is_sending(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, settings: Settings,
    topics: dict[str, int],
) -> None:  # fmt: skip
    overdose = topics["overdose-prevention"]
    weekly = await make_series(pool)
    readers = await add_subscribers(pool, 1500)
    await pool.execute(
        "INSERT INTO subscriber_topics SELECT unnest($1::bigint[]), $2", readers, overdose
    )
    await pool.execute(
        "INSERT INTO subscriber_series SELECT unnest($1::bigint[]), $2", readers, weekly
    )
    urgent_readers = readers[-10:]  # the last to get the digest, if the alert waited its turn
    await pool.execute(
        "UPDATE subscribers SET accepts_alerts = true WHERE subscriber_id = ANY($1)", urgent_readers
    )
    story = await add_item(pool, "Weekly story", [overdose], hours_ago=2)
    warning = await add_item(pool, "Urgent: contaminated supply", [overdose], hours_ago=0.1)
    digest_id = await digests.create_digest(pool, settings, weekly, now=datetime.now(UTC))
    assert digest_id is not None
    await digests.edit_digest(pool, settings, digest_id, item_ids=[story])
    assert await digests.start(pool, settings, digest_id) == 1500

    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(100, timeout=30)
        draft = await alerts.create(pool, settings, warning, requested_by=EDITOR)
        assert draft.recipients == 10
        made = await alerts.confirm(pool, settings, draft.notice_id, confirmed=10,
                                    confirmed_by=EDITOR)  # fmt: skip
        assert made == 10
        await wait_until(lambda: _is(pool, digest_id, "sent"), timeout=60)
        await wait_until(lambda: _is(pool, draft.notice_id, "sent"), timeout=10)
    subjects = [m.message["Subject"] for m in smtp_sink.received]
    alert_positions = [i for i, s in enumerate(subjects) if s.startswith("[Alert]")]
    digest_positions = [i for i, s in enumerate(subjects) if not s.startswith("[Alert]")]
    assert len(alert_positions) == 10 and len(digest_positions) == 1500
    assert max(alert_positions) < max(digest_positions), "the alert waited for the digest"
    # It went out while most of the digest was still to go, not just before its last mail.
    assert max(alert_positions) < 1000


async def _warned_reader_and_other(
    pool: asyncpg.Pool, topics: dict[str, int]
) -> tuple[int, int, int, int, int]:
    """A weekly series with a reader who takes alerts and one who does not, and two
    overdose stories: (series, warned, other, the warning, a later story)."""
    overdose = topics["overdose-prevention"]
    weekly = await make_series(pool)
    warned = await add_reader(pool, "warned@example.org", [overdose], alerts=True, series_id=weekly)
    other = await add_reader(pool, "other@example.org", [overdose], series_id=weekly)
    warning = await add_item(pool, "Contaminated supply", [overdose])
    later = await add_item(pool, "Follow-up story", [overdose])
    return weekly, warned, other, warning, later


async def _ledger(pool: asyncpg.Pool, digest_id: int) -> dict[int, list[int]]:
    """The items each subscriber's delivery of the digest carries."""
    rows = await pool.fetch(
        "SELECT subscriber_id, item_ids FROM deliveries WHERE mailing_id = $1", digest_id
    )
    return {r["subscriber_id"]: sorted(r["item_ids"]) for r in rows}


async def test_the_next_digest_does_not_repeat_an_alerted_item(
    pool: asyncpg.Pool, settings: Settings, topics: dict[str, int]
) -> None:
    weekly, warned, other, warning, later = await _warned_reader_and_other(pool, topics)
    draft = await alerts.create(pool, settings, warning, requested_by=EDITOR)
    await alerts.confirm(pool, settings, draft.notice_id, confirmed=1, confirmed_by=EDITOR)
    # The digest is assembled from the feed: the alerted item is news for the others.
    digest_id = await digests.create_digest(pool, settings, weekly, now=datetime.now(UTC))
    assert digest_id is not None
    carried = await pool.fetchval(
        "SELECT array_agg(item_id ORDER BY item_id) FROM mailing_items WHERE mailing_id = $1",
        digest_id,
    )
    assert carried == sorted([warning, later])
    preview = await digests.preview(pool, settings, digest_id, subscriber="warned@example.org")
    assert "Contaminated supply" not in preview["text"] and "Follow-up story" in preview["text"]
    assert await digests.start(pool, settings, digest_id) == 2
    assert await _ledger(pool, digest_id) == {warned: [later], other: sorted([warning, later])}


async def test_a_digest_starting_while_an_alert_fans_out_waits_and_skips_its_item(
    pool: asyncpg.Pool, settings: Settings, topics: dict[str, int]
) -> None:
    weekly, warned, other, warning, later = await _warned_reader_and_other(pool, topics)
    draft = await alerts.create(pool, settings, warning, requested_by=EDITOR)
    digest_id = await digests.create_digest(pool, settings, weekly, now=datetime.now(UTC))
    assert digest_id is not None
    async with pool.acquire() as conn, conn.transaction():
        await alerts.send_alert(conn, settings, draft.notice_id, confirmed=1, confirmed_by=EDITOR)
        # The alert's deliveries are not committed yet: a digest fanning out now would not
        # see them, so it waits for the alert's transaction.
        digest_start = asyncio.create_task(digests.start(pool, settings, digest_id))
        await asyncio.sleep(0.5)
        assert not digest_start.done()
    assert await digest_start == 2
    assert await _ledger(pool, digest_id) == {warned: [later], other: sorted([warning, later])}


async def test_bad_alerts_are_refused_and_nothing_is_written(
    pool: asyncpg.Pool, settings: Settings, client: Client, topics: dict[str, int]
) -> None:
    overdose = topics["overdose-prevention"]
    h = await editor_headers(pool)
    no_topic = await add_item(pool, "Press release without a topic", [])
    hidden = await add_item(pool, "Hidden story", [overdose])
    await pool.execute("UPDATE items SET hidden = true WHERE item_id = $1", hidden)
    nobody = await add_item(pool, "Road story", [topics["road-safety"]])
    await add_reader(pool, "ana@example.org", [overdose], alerts=True)
    before = await counts(pool)
    cases = [
        ({"item_id": no_topic}, 409, "has no topic"),
        ({"item_id": hidden}, 409, "hidden"),
        ({"item_id": nobody}, 409, "nobody would receive"),
        ({"item_id": 999_999}, 404, "does not exist"),
        ({}, 400, "invalid alert"),
        ({"item_id": "12"}, 400, "invalid alert"),
        ({"item_id": True}, 400, "invalid alert"),
    ]
    for body, status, fragment in cases:
        response = await client.post("/api/v1/alerts", json=body, headers=h)
        assert response.status == status, (body, await response.text())
        assert fragment in (await response.json())["error"]["message"]
    assert await counts(pool) == before
    assert (await client.post("/api/v1/alerts", json={"item_id": 1})).status == 401
    for path in ("/api/v1/alerts/999/send", "/api/v1/alerts/999/cancel"):
        missing = await client.post(path, json={"confirm": 1}, headers=h)
        assert missing.status == 404
    assert (await client.get("/api/v1/alerts/x", headers=h)).status == 400
    with pytest.raises(NotFound):
        await alerts.get_alert(pool, 999)


async def test_a_changed_audience_must_be_confirmed_again(
    pool: asyncpg.Pool, settings: Settings, topics: dict[str, int]
) -> None:
    overdose, tobacco = topics["overdose-prevention"], topics["tobacco-control"]
    item = await add_item(pool, "Warning", [overdose])
    await add_reader(pool, "ana@example.org", [overdose], alerts=True)
    for i in range(12):
        await add_reader(pool, f"t{i}@example.org", [tobacco], alerts=True)
    draft = await alerts.create(pool, settings, item, requested_by=EDITOR)
    assert draft.recipients == 1
    # Meanwhile an editor gives the item a second, larger topic.
    await pool.execute(
        "UPDATE items SET topic_ids = $2 WHERE item_id = $1", item, [overdose, tobacco]
    )
    with pytest.raises(AudienceChanged, match="changed from 1 to 13"):
        await alerts.confirm(pool, settings, draft.notice_id, confirmed=1, confirmed_by=EDITOR)
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
    assert await _status(pool, draft.notice_id) == "draft"
    with pytest.raises(Conflict, match="confirm 13"):
        await alerts.confirm(pool, settings, draft.notice_id, confirmed=1, confirmed_by=EDITOR)
    made = await alerts.confirm(pool, settings, draft.notice_id, confirmed=13, confirmed_by=EDITOR)
    assert made == 13
    with pytest.raises(Conflict, match="being sent as alert"):
        await alerts.create(pool, settings, item, requested_by=EDITOR)
    # Once it went out, an editor may alert again: only those who did not get it count.
    await mark_sent(pool, draft.notice_id)
    await add_reader(pool, "late@example.org", [overdose], alerts=True)
    second = await alerts.create(pool, settings, item, requested_by=EDITOR)
    assert second.created and second.recipients == 1
