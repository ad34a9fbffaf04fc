"""Corrections end to end: recorded at once (archive and item page show them), the notice
sent to exactly the people who received the item, and the item's audit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from mailer.audience.consent import Context
from mailer.audience.preferences import unsubscribe
from mailer.config import Settings
from mailer.delivery import mailings
from mailer.editorial import alerts, corrections, digests
from mailer.errors import Conflict
from mailer.tokens import Signer
from mailer.web.app import create_app
from tests.support.clicks import REDIRECT
from tests.support.factories import engine_settings, running_worker, wait_until
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


async def _finished(pool: asyncpg.Pool, mailing_id: int) -> bool:
    status = await pool.fetchval("SELECT status FROM mailings WHERE mailing_id = $1", mailing_id)
    return bool(status == "sent")


async def test_a_correction_reaches_exactly_the_receivers_of_the_item(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, settings: Settings, client: Client,
    topics: dict[str, int],
) -> None:  # fmt: skip
    overdose, tobacco = topics["overdose-prevention"], topics["tobacco-control"]
    weekly = await make_series(pool)
    figure = await add_item(pool, "Overdoses fell 40% in 2025", [overdose])
    other = await add_item(pool, "Smoke-free parks", [tobacco])
    await add_reader(pool, "ana@example.org", [overdose], series_id=weekly, name="Ana")
    ben = await add_reader(pool, "ben@example.org", [overdose], series_id=weekly)
    await add_reader(pool, "cy@example.org", [tobacco], series_id=weekly)  # another item
    dee = await add_reader(pool, "dee@example.org", [overdose], series_id=weekly)
    await add_reader(pool, "nix@example.org", [overdose])  # no digest series: never got it
    digest_id = await digests.create_digest(pool, settings, weekly, now=datetime.now(UTC))
    assert digest_id is not None
    await digests.edit_digest(pool, settings, digest_id, item_ids=[figure, other])
    assert await digests.start(pool, settings, digest_id) == 4
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(4)
        await wait_until(lambda: _finished(pool, digest_id))
    smtp_sink.received.clear()
    # Since then: Ben changed topics, Dee unsubscribed, Eve joined.
    await pool.execute("DELETE FROM subscriber_topics WHERE subscriber_id = $1", ben)
    await pool.execute("INSERT INTO subscriber_topics VALUES ($1, $2)", ben, tobacco)
    await unsubscribe(pool, dee, Context(source="test"))
    await add_reader(pool, "eve@example.org", [overdose], series_id=weekly)
    h = await editor_headers(pool)

    made = await client.post(
        f"/api/v1/items/{figure}/corrections",
        json={"note": "Overdoses fell 14%, not 40%: a typing error.",
              "title": "Overdoses fell 14% in 2025"},
        headers=h,
    )  # fmt: skip
    assert made.status == 201, await made.text()
    draft = await made.json()
    assert draft["recipients"] == 2 and draft["status"] == "draft"
    assert draft["subject"] == "[Correction] Overdoses fell 14% in 2025"
    correction_id = draft["correction_id"]
    # The item is corrected at once, and the archive says so with the date.
    assert await pool.fetchval("SELECT title FROM items WHERE item_id = $1", figure) == (
        "Overdoses fell 14% in 2025"
    )
    slug = await pool.fetchval("SELECT slug FROM mailings WHERE mailing_id = $1", digest_id)
    page = await (await client.get(f"/archive/{slug}")).text()
    today = datetime.now(UTC).strftime("%d %B %Y")
    assert "Corrected on <time" in page and today in page
    assert "a typing error" in page and f"/archive/items/{figure}" in page
    item_page = await (await client.get(f"/archive/items/{figure}")).text()
    assert "Overdoses fell 14% in 2025" in item_page and "a typing error" in item_page
    assert "The title was “Overdoses fell 40% in 2025”" in item_page
    assert (await client.get(f"/archive/items/{other + 1000}")).status == 404

    # A second correction must wait for the first notice.
    second = await client.post(
        f"/api/v1/items/{figure}/corrections", json={"note": "Another fix"}, headers=h
    )
    assert second.status == 409
    assert "awaits confirmation" in (await second.json())["error"]["message"]
    sent = await client.post(
        f"/api/v1/corrections/{correction_id}/send", json={"confirm": 2}, headers=h
    )
    assert sent.status == 202 and (await sent.json())["recipients"] == 2
    before = await counts(pool)
    while_sending = await client.post(
        f"/api/v1/items/{figure}/corrections", json={"note": "Another fix"}, headers=h
    )
    assert while_sending.status == 409
    assert "is still sending" in (await while_sending.json())["error"]["message"]
    assert await counts(pool) == before

    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(2)
        await wait_until(lambda: _finished(pool, draft["mailing_id"]))
    assert sorted(smtp_sink.recipients()) == ["ana@example.org", "ben@example.org"]
    message = next(m.message for m in smtp_sink.received if m.rcpt_tos == ["ana@example.org"])
    assert message["List-Id"] == "Newsroom corrections <corrections.health.example.org>"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "CORRECTION" in text and "Hello Ana," in text and "a typing error" in text
    assert "Title before: Overdoses fell 40% in 2025" in text
    assert "Title now:    Overdoses fell 14% in 2025" in text
    # The link to the item goes through the click redirect (it names the item, not Ana).
    link = REDIRECT.search(text)
    assert link is not None
    target = Signer(settings.signing_keys).read_click_token(link.group(1).removeprefix("/r/"))
    assert target[1:] == (figure, f"https://news.example.org/archive/items/{figure}")

    audit = await (await client.get(f"/api/v1/items/{figure}/audit", headers=h)).json()
    assert audit["received"]["people"] == 3 and audit["received"]["deliveries"] == 3
    assert audit["received"]["first_sent_at"] <= audit["received"]["last_sent_at"]
    assert [(m["mailing_id"], m["kind"], m["sent"]) for m in audit["mailings"]] == [
        (digest_id, "digest", 3)
    ]
    (fix,) = audit["corrections"]
    assert fix["correction_id"] == correction_id and fix["sent"] == 2
    assert fix["notice_status"] == "sent" and fix["note"].startswith("Overdoses fell 14%")
    events = [r["type"] for r in await pool.fetch("SELECT type FROM events ORDER BY event_id")]
    assert events[-4:] == [
        "item.corrected", "correction.drafted", "correction.sending", "correction.sent",
    ]  # fmt: skip


async def test_a_retraction_after_an_alert_and_a_digest(
    pool: asyncpg.Pool, settings: Settings, client: Client, topics: dict[str, int]
) -> None:
    overdose = topics["overdose-prevention"]
    weekly = await make_series(pool)
    item = await add_item(pool, "Bad batch in town", [overdose])
    alerted = await add_reader(pool, "alerted@example.org", [overdose], alerts=True)
    await add_reader(pool, "digest@example.org", [overdose], series_id=weekly)
    draft = await alerts.create(pool, settings, item, requested_by=EDITOR)
    await alerts.confirm(pool, settings, draft.notice_id, confirmed=1, confirmed_by=EDITOR)
    await mark_sent(pool, draft.notice_id)
    digest_id = await digests.create_digest(pool, settings, weekly, now=datetime.now(UTC))
    assert digest_id is not None
    assert await digests.start(pool, settings, digest_id) == 1
    # While the digest carrying it is still sending, a correction waits.
    with pytest.raises(Conflict, match="still being sent in digest"):
        await corrections.correct(pool, settings, item, corrections.Change("Wrong town"),
                                  requested_by=EDITOR)  # fmt: skip
    await mark_sent(pool, digest_id)
    draft_fix = await corrections.correct(
        pool, settings, item, corrections.Change("It was another town.", retract=True),
        requested_by=EDITOR,
    )  # fmt: skip
    assert draft_fix.recipients == 2  # by alert and by digest
    assert draft_fix.subject == "[Correction] Retracted: Bad batch in town"
    assert await pool.fetchval("SELECT hidden FROM items WHERE item_id = $1", item) is True
    h = await editor_headers(pool)
    preview = await client.get(
        f"/api/v1/corrections/{draft_fix.notice_id}/preview?format=text", headers=h
    )
    assert "We have retracted an item we sent you" in await preview.text()
    item_page = await (await client.get(f"/archive/items/{item}")).text()
    assert "This item was retracted." in item_page and "Retracted on" in item_page
    # The alerted reader turned everything off: nobody of theirs is counted any more.
    await pool.execute("UPDATE subscribers SET status = 'unsubscribed' WHERE subscriber_id = $1",
                       alerted)  # fmt: skip
    cancelled = await client.post(f"/api/v1/corrections/{draft_fix.notice_id}/cancel", headers=h)
    assert cancelled.status == 200 and (await cancelled.json())["notice_status"] == "cancelled"
    assert (await mailings.progress(pool, draft_fix.mailing_id or 0)).total == 0
    listed = await (await client.get(f"/api/v1/corrections?item={item}", headers=h)).json()
    assert [c["kind"] for c in listed["corrections"]] == ["retraction"]


async def test_bad_corrections_are_refused_and_nothing_is_written(
    pool: asyncpg.Pool, settings: Settings, client: Client, topics: dict[str, int]
) -> None:
    overdose = topics["overdose-prevention"]
    never = await add_item(pool, "Never sent", [overdose])
    h = await editor_headers(pool)
    before = await counts(pool)
    cases = [
        (never, {"note": "Fix"}, 409, "never sent"),
        (never, {}, 400, "invalid correction"),
        (never, {"note": "   "}, 400, "invalid correction"),
        (never, {"note": "x" * 2001}, 400, "invalid correction"),
        (never, {"note": "Fix", "retract": "yes"}, 400, "invalid correction"),
        (never, {"note": "Fix", "title": " "}, 400, "invalid correction"),
        (999_999, {"note": "Fix"}, 404, "does not exist"),
    ]
    for item_id, body, status, fragment in cases:
        response = await client.post(f"/api/v1/items/{item_id}/corrections", json=body, headers=h)
        assert response.status == status, (body, await response.text())
        assert fragment in (await response.json())["error"]["message"]
    assert await counts(pool) == before
    for path in ("/api/v1/corrections/77/send", "/api/v1/corrections/77/cancel"):
        assert (await client.post(path, json={"confirm": 1}, headers=h)).status == 404
    assert (await client.get("/api/v1/items/77/audit", headers=h)).status == 404
    audit = await (await client.get(f"/api/v1/items/{never}/audit", headers=h)).json()
    assert audit["received"]["people"] == 0 and audit["mailings"] == []
