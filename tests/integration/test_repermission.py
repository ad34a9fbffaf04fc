"""Re-permission end to end through the SMTP sink: the count first, the mail in each
reader's language with a signed "yes" link, a yes kept (a consent entry), and those who
did not answer removed only after the window and only when the editor confirms the count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from mailer.audience.topics import create_topic
from mailer.config import Settings
from mailer.editorial import repermission
from mailer.web.app import create_app
from tests.integration.test_alert_cli import mailer
from tests.support.console import Client, add_editor, signed_in
from tests.support.factories import engine_settings, running_worker, wait_until
from tests.support.helpers import ClientFactory
from tests.support.newsroom import add_reader, editor_headers
from tests.support.smtp_sink import SmtpSink

BASE = "http://127.0.0.1:8080"
KEEP = re.compile(re.escape(BASE) + r"(/keep/[A-Za-z0-9_-]+)")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return engine_settings(tmp_path, base_url=BASE, organisation="Springfield Health")


@pytest.fixture
async def client(pool: asyncpg.Pool, settings: Settings, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(create_app(settings, pool))


async def _readers(pool: asyncpg.Pool) -> dict[str, int]:
    topic = await create_topic(pool, name="Overdose Prevention", position=0)
    made = {
        name: await add_reader(pool, f"{name}@example.org", [topic.topic_id])
        for name in ("ana", "beto", "cleo", "dan", "eve")
    }
    await pool.execute(
        "UPDATE subscribers SET confirmed_at = now() - interval '2 years', locale = $2 "
        "WHERE subscriber_id = ANY($1::bigint[])",
        [made["ana"], made["beto"], made["dan"], made["eve"]],
        None,
    )
    await pool.execute("UPDATE subscribers SET locale = 'es-MX' WHERE subscriber_id = $1",
                       made["beto"])  # fmt: skip
    # Cleo joined last month; Dan subscribed again lately; Eve left: none is asked.
    await pool.execute(
        "UPDATE subscribers SET confirmed_at = now() - interval '1 month' WHERE subscriber_id = $1",
        made["cleo"],
    )
    await pool.execute(
        "INSERT INTO consent_events (subscriber_id, email_hash, action, occurred_at) "
        "VALUES ($1, '\\x00', 'resubscribe', now() - interval '1 month')",
        made["dan"],
    )
    await pool.execute(
        "UPDATE subscribers SET status = 'unsubscribed' WHERE subscriber_id = $1", made["eve"]
    )
    return made


async def _status(pool: asyncpg.Pool, subscriber_id: int) -> str:
    return str(
        await pool.fetchval(
            "SELECT status FROM subscribers WHERE subscriber_id = $1", subscriber_id
        )
    )


async def _consents(pool: asyncpg.Pool, subscriber_id: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT action, detail FROM consent_events WHERE subscriber_id = $1 "
        "AND email_hash <> '\\x00' ORDER BY consent_event_id",
        subscriber_id,
    )


def _text(mail: object) -> str:
    body = mail.message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return str(body.get_content())


async def test_a_yes_keeps_a_reader_and_silence_removes_only_when_the_editor_confirms(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, settings: Settings, client: Client
) -> None:
    readers = await _readers(pool)
    await add_editor(pool)
    csrf = await signed_in(client)

    # The count first: readers confirmed more than 12 months ago, not since.
    counted = await client.get("/console/repermission", params={"months": "12", "days": "14"})
    assert counted.status == 200 and "asks <strong>2 people</strong>" in await counted.text()
    made = await client.post(
        "/console/repermission",
        data={"csrf_token": csrf, "months": "12", "days": "14"},
        allow_redirects=False,
    )
    assert made.status == 303
    page_url = made.headers["Location"]
    assert "Send to 2 people" in await (await client.get(page_url)).text()
    # Only the count shown sends it.
    wrong = await client.post(f"{page_url}/send", data={"csrf_token": csrf, "confirm": "3"})
    assert wrong.status == 409 and "goes to 2 people, not 3" in await wrong.text()
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
    sent = await client.post(
        f"{page_url}/send", data={"csrf_token": csrf, "confirm": "2"}, allow_redirects=False
    )
    assert sent.status == 303

    async with running_worker(pool, db_url, smtp_sink, settings):
        mails = await smtp_sink.wait_for(2)
    by_reader = {m.rcpt_tos[0]: m for m in mails}
    assert set(by_reader) == {"ana@example.org", "beto@example.org"}
    english, spanish = by_reader["ana@example.org"], by_reader["beto@example.org"]
    assert english.message["Subject"] == "Do you still want mail from Springfield Health?"
    assert spanish.message["Subject"] == "¿Todavía quiere recibir el correo de Springfield Health?"
    assert "Sí, mantener mi suscripción" in _text(spanish)
    assert english.message["List-Unsubscribe"]  # leaving is one click too
    ana_link = KEEP.search(_text(english))
    beto_link = KEEP.search(_text(spanish))
    assert ana_link and beto_link and ana_link.group(1) != beto_link.group(1)

    # Opening the link (a scanner, a preview) changes nothing; the button does.
    shown = await client.get(ana_link.group(1))
    assert shown.status == 200 and "Yes, keep me subscribed" in await shown.text()
    assert await _consents(pool, readers["ana"]) == []
    kept = await client.post(ana_link.group(1))
    assert kept.status == 200 and "You stay subscribed" in await kept.text()
    again = await client.post(ana_link.group(1))
    assert again.status == 200
    consents = await _consents(pool, readers["ana"])
    assert [c["action"] for c in consents] == ["repermission"]
    forged = ana_link.group(1)[:-2] + ("AA" if not ana_link.group(1).endswith("AA") else "BB")
    assert (await client.post(forged)).status == 404

    # Before the window ends: the counts, no removal, and a refusal if one is asked for.
    await wait_until(lambda: _all_sent(pool))
    page = await (await client.get(page_url)).text()
    assert re.search(r'id="asked">2<', page) and re.search(r'id="sent">2<', page)
    assert re.search(r'id="answered">1<', page) and re.search(r'id="no-answer">1<', page)
    assert "/remove" not in page
    early = await client.post(f"{page_url}/remove", data={"csrf_token": csrf, "confirm": "1"})
    assert early.status == 409 and "nobody is removed before then" in await early.text()
    assert await _status(pool, readers["beto"]) == "active"

    # The window is over: the counts come first, then the removal to confirm.
    await pool.execute("UPDATE repermission_campaigns SET answer_by = now() - interval '1 s'")
    page = await (await client.get(page_url)).text()
    assert page.index('id="no-answer"') < page.index("Unsubscribe 1 who did not answer")
    wrong = await client.post(f"{page_url}/remove", data={"csrf_token": csrf, "confirm": "2"})
    assert wrong.status == 409 and await _status(pool, readers["beto"]) == "active"
    removed = await client.post(
        f"{page_url}/remove", data={"csrf_token": csrf, "confirm": "1"}, allow_redirects=False
    )
    assert removed.status == 303
    assert await _status(pool, readers["beto"]) == "unsubscribed"
    assert await _status(pool, readers["ana"]) == "active"
    assert await _status(pool, readers["cleo"]) == "active"
    (entry,) = await _consents(pool, readers["beto"])
    assert entry["action"] == "unsubscribe"
    assert entry["detail"]["reason"] == "re-permission: no answer"
    event = await pool.fetchval(
        "SELECT payload->>'reason' FROM events WHERE type = 'subscriber.unsubscribed' "
        "AND subject_id = $1",
        readers["beto"],
    )
    assert event == "re-permission: no answer"
    closed = await (await client.get(page_url)).text()
    assert re.search(r'id="removed">1<', closed) and "status-closed" in closed
    # Beto's link now says so, in Spanish, with the way back.
    late = await client.post(beto_link.group(1))
    assert late.status == 200 and "No está suscrito" in await late.text()
    assert "/preferences/" in await late.text()


async def _all_sent(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT bool_and(status = 'sent') FROM deliveries"))


async def test_the_api_pair(pool: asyncpg.Pool, client: Client) -> None:
    readers = await _readers(pool)
    h = await editor_headers(pool)
    bad = await client.post("/api/v1/repermission", json={"months": 0, "days": "x"}, headers=h)
    assert bad.status == 400
    assert set((await bad.json())["error"]["fields"]) == {"months", "days"}
    made = await client.post("/api/v1/repermission", json={"months": 6, "days": 7}, headers=h)
    assert made.status == 201
    draft = await made.json()
    assert draft["recipients"] == 2 and draft["status"] == "draft"
    assert draft["confirm"]["body"] == {"confirm": 2}
    another = await client.post("/api/v1/repermission", json={"months": 6, "days": 7}, headers=h)
    assert another.status == 409
    path = f"/api/v1/repermission/{draft['campaign_id']}"
    assert (await client.post(f"{path}/send", json={}, headers=h)).status == 400
    sent = await client.post(f"{path}/send", json={"confirm": 2}, headers=h)
    assert sent.status == 202 and (await sent.json())["recipients"] == 2
    counts = await (await client.get(path, headers=h)).json()
    assert (counts["asked"], counts["answered"], counts["no_answer"]) == (2, 0, 2)
    assert counts["status"] == "open" and counts["answer_by"]
    early = await client.post(f"{path}/remove", json={"confirm": 2}, headers=h)
    assert early.status == 409 and await _status(pool, readers["ana"]) == "active"
    await pool.execute("UPDATE repermission_campaigns SET answer_by = now() - interval '1 s'")
    removed = await client.post(f"{path}/remove", json={"confirm": 2}, headers=h)
    assert removed.status == 200 and (await removed.json())["removed"] == 2
    assert (await client.get("/api/v1/repermission/99", headers=h)).status == 404


async def test_the_command_asks_with_the_counts(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path
) -> None:
    readers = await _readers(pool)
    counted = mailer(tmp_path, db_url, "repermission", "count", "--months", "12")
    assert counted.returncode == 0 and "2 people would be asked" in counted.stdout
    refused = mailer(tmp_path, db_url, "repermission", "start", "--months", "12", answer="n\n")
    assert refused.returncode == 1 and "to 2 people? [y/N]" in refused.stdout
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
    started = mailer(tmp_path, db_url, "repermission", "start", "--months", "12", answer="y\n")
    assert started.returncode == 0, started.stderr
    campaign = str(await pool.fetchval("SELECT max(campaign_id) FROM repermission_campaigns"))
    early = mailer(tmp_path, db_url, "repermission", "close", campaign, answer="y\n")
    assert early.returncode != 0 and "nobody is removed before then" in early.stderr
    await pool.execute("UPDATE repermission_campaigns SET answer_by = now() - interval '1 s'")
    kept = mailer(tmp_path, db_url, "repermission", "close", campaign, answer="n\n")
    assert "no answer 2" in kept.stdout and "Nobody was removed." in kept.stdout
    assert await _status(pool, readers["ana"]) == "active"
    closed = mailer(tmp_path, db_url, "repermission", "close", campaign, answer="y\n")
    assert closed.returncode == 0 and "2 people unsubscribed" in closed.stdout
    assert await _status(pool, readers["ana"]) == "unsubscribed"


async def test_a_scheduled_campaign_goes_at_its_time_or_back_to_draft(
    pool: asyncpg.Pool, settings: Settings, client: Client
) -> None:
    await _readers(pool)
    h = await editor_headers(pool)
    draft = await (await client.post("/api/v1/repermission", json={"months": 12, "days": 7},
                                     headers=h)).json()  # fmt: skip
    path = f"/api/v1/repermission/{draft['campaign_id']}"
    now = datetime.now(UTC)
    for bad in ("tomorrow", "2027-01-05T09:00", (now - timedelta(hours=1)).isoformat()):
        refused = await client.post(f"{path}/send", json={"confirm": 2, "send_at": bad}, headers=h)
        assert refused.status == 400, bad
    at = now + timedelta(hours=1)
    scheduled = await client.post(
        f"{path}/send", json={"confirm": 2, "send_at": at.isoformat()}, headers=h
    )
    assert scheduled.status == 202 and (await scheduled.json())["status"] == "scheduled"
    assert await repermission.send_due(pool, settings, now=now) == []
    # Many more readers reach the cutoff meanwhile: back to draft, for a new count.
    topic = await pool.fetchval("SELECT topic_id FROM topics")
    for n in range(8):
        reader = await add_reader(pool, f"old{n}@example.org", [topic])
        await pool.execute(
            "UPDATE subscribers SET confirmed_at = now() - interval '3 years' "
            "WHERE subscriber_id = $1",
            reader,
        )
    assert await repermission.send_due(pool, settings, now=at) == []
    back = await (await client.get(path, headers=h)).json()
    assert back["status"] == "draft" and back["recipients"] == 10
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
    again = await client.post(
        f"{path}/send", json={"confirm": 10, "send_at": at.isoformat()}, headers=h
    )
    assert again.status == 202
    assert await repermission.send_due(pool, settings, now=at) == [draft["campaign_id"]]
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 10
    assert (await (await client.get(path, headers=h)).json())["status"] == "open"
