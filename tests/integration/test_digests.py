"""Digests end to end: feed items in, assembled for a series, scheduled, sent personalised."""

import asyncio
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.accounts.api_keys import create_api_key
from mailer.audience.topics import create_topic
from mailer.content.items import edit_item, store_items
from mailer.content.parse import ParsedItem
from mailer.editorial import digests, series
from mailer.errors import Conflict, InvalidInput
from mailer.web.app import create_app
from tests.support.factories import engine_settings, running_worker, statuses, wait_until
from tests.support.helpers import ClientFactory
from tests.support.smtp_sink import SmtpSink

Client = TestClient[web.Request, web.Application]
NOW = datetime.now(UTC)
NEW_YORK = ZoneInfo("America/New_York")


async def add_items(
    pool: asyncpg.Pool, topics: dict[str, int], spec: list[tuple[str, str]]
) -> dict[str, int]:
    """Items titled as given, each with one topic; returns title -> item_id."""
    parsed = [
        ParsedItem(guid=title, link=f"https://news.example.org/{i}", title=title,
                   summary_html=f"<p>About {title}.</p>", summary_text=f"About {title}.",
                   published_at=NOW - timedelta(hours=i + 1))
        for i, (title, _) in enumerate(spec)
    ]  # fmt: skip
    by_title = {title: [topics[topic]] for title, topic in spec}
    async with pool.acquire() as conn, conn.transaction():
        source_id = await conn.fetchval("SELECT source_id FROM feed_sources WHERE kind = 'push'")
        await store_items(conn, source_id, parsed, lambda item: by_title[item.title])
    rows = await pool.fetch("SELECT item_id, title FROM items")
    return {r["title"]: r["item_id"] for r in rows}


async def add_reader(
    pool: asyncpg.Pool, email: str, name: str | None, topic_ids: list[int], series_id: int
) -> int:
    subscriber_id: int = await pool.fetchval(
        "INSERT INTO subscribers (email, email_key, name, status) VALUES ($1, $1, $2, 'active') "
        "RETURNING subscriber_id", email, name,
    )  # fmt: skip
    await pool.execute(
        "INSERT INTO subscriber_topics SELECT $1, unnest($2::bigint[])", subscriber_id, topic_ids
    )
    await pool.execute("INSERT INTO subscriber_series VALUES ($1, $2)", subscriber_id, series_id)
    return subscriber_id


@pytest.fixture
async def newsroom(pool: asyncpg.Pool) -> dict[str, int]:
    made = [
        await create_topic(pool, name=name, position=i)
        for i, name in enumerate(("Overdose Prevention", "Tobacco Control", "Road Safety"))
    ]
    return {t.slug: t.topic_id for t in made}


@pytest.fixture
async def weekly(pool: asyncpg.Pool) -> int:
    created = await series.create_series(
        pool, name="Weekly public health news", cron="0 9 * * tue",
        timezone="America/New_York", now=NOW,
    )  # fmt: skip
    return int(created["series_id"])


async def test_digest_from_feed_to_inbox_personalised(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    newsroom: dict[str, int], weekly: int, aiohttp_client: ClientFactory,
) -> None:  # fmt: skip
    items = await add_items(pool, newsroom, [
        ("Naloxone in libraries", "overdose-prevention"),
        ("Fentanyl test strips", "overdose-prevention"),
        ("Smoke-free parks", "tobacco-control"), ("Safer crossings", "road-safety"),
    ])  # fmt: skip
    ana = await add_reader(
        pool, "ana@example.org", "Ana", [newsroom["overdose-prevention"]], weekly
    )
    ben = await add_reader(
        pool,
        "ben@example.org",
        None,
        [newsroom["tobacco-control"], newsroom["road-safety"]],
        weekly,
    )
    await add_reader(pool, "cy@example.org", "Cy", [newsroom["road-safety"]], weekly)
    await pool.execute(
        "UPDATE subscribers SET plain_text_only = true WHERE email = 'cy@example.org'"
    )
    settings = engine_settings(tmp_path)

    mailing_id = await digests.create_digest(pool, settings, weekly, now=NOW)
    assert mailing_id is not None
    assert (
        await pool.fetchval("SELECT count(*) FROM mailing_items WHERE mailing_id = $1", mailing_id)
        == 4
    )
    send_at = NOW + timedelta(seconds=2)
    await digests.schedule(pool, settings, mailing_id, send_at, now=NOW)
    assert await digests.send_due(pool, settings, now=NOW) == []  # not yet
    assert await digests.send_due(pool, settings, now=send_at) == [mailing_id]
    assert await digests.send_due(pool, settings, now=send_at) == []  # once

    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(3)
        await wait_until(lambda: _sent(pool, mailing_id))
    by_rcpt = {m.rcpt_tos[0]: m.message for m in smtp_sink.received}
    ana_text = by_rcpt["ana@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Hello Ana," in ana_text
    assert "Naloxone in libraries" in ana_text and "Fentanyl test strips" in ana_text
    assert "Smoke-free parks" not in ana_text and "Safer crossings" not in ana_text
    ben_html = by_rcpt["ben@example.org"].get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Smoke-free parks" in ben_html and "Safer crossings" in ben_html
    assert "Naloxone" not in ben_html
    assert "Hello," in ben_html
    assert by_rcpt["cy@example.org"].get_content_type() == "text/plain"
    rows = await pool.fetch("SELECT subscriber_id, item_ids FROM deliveries ORDER BY subscriber_id")
    ledger = {r["subscriber_id"]: sorted(r["item_ids"]) for r in rows}
    assert ledger[ana] == sorted([items["Naloxone in libraries"], items["Fentanyl test strips"]])
    assert ledger[ben] == sorted([items["Smoke-free parks"], items["Safer crossings"]])

    # Every mail's personal links work.
    client: Client = await aiohttp_client(create_app(settings, pool))
    text = by_rcpt["ben@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    preferences = re.search(r"https://news\.example\.org(/preferences/\S+)", text)
    unsubscribe = re.search(r"https://news\.example\.org(/unsubscribe/\S+)", text)
    assert preferences and unsubscribe
    assert (await client.get(preferences.group(1))).status == 200
    assert (await client.get(unsubscribe.group(1))).status == 200
    header = by_rcpt["ben@example.org"]["List-Unsubscribe"]
    https, mailto = header.split(", ")
    assert https == f"<https://news.example.org{unsubscribe.group(1)}>"
    assert mailto.startswith("<mailto:unsubscribe+")
    # The archive shows it, with no personal link in it.
    archive = await (await client.get("/archive")).text()
    slug = await pool.fetchval("SELECT slug FROM mailings WHERE mailing_id = $1", mailing_id)
    assert f"/archive/{slug}" in archive
    body = await (await client.get(f"/archive/{slug}/body")).text()
    assert "Naloxone in libraries" in body and "/unsubscribe/" not in body
    atom = await (await client.get("/archive.atom")).text()
    assert f"/archive/{slug}" in atom


async def _sent(pool: asyncpg.Pool, mailing_id: int) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT status = 'sent' FROM mailings WHERE mailing_id = $1", mailing_id
        )
    )


async def test_nobody_gets_an_item_twice_and_nobody_gets_an_empty_digest(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int], weekly: int
) -> None:
    items = await add_items(pool, newsroom, [
        ("Old story", "overdose-prevention"), ("New story", "overdose-prevention"),
    ])  # fmt: skip
    settings = engine_settings(tmp_path)
    ana = await add_reader(
        pool, "ana@example.org", "Ana", [newsroom["overdose-prevention"]], weekly
    )
    await add_reader(pool, "ben@example.org", "Ben", [newsroom["road-safety"]], weekly)
    first = await digests.create_digest(pool, settings, weekly, now=NOW)
    assert first is not None
    await digests.edit_digest(pool, settings, first, item_ids=[items["Old story"]])
    assert await digests.start(pool, settings, first) == 1  # Ben has no item: no mail
    await pool.execute("UPDATE deliveries SET status = 'sent'")
    # An editor puts the old story into the next digest too (another series, even).
    daily = await series.create_series(
        pool, name="Daily", cron="0 8 * * *", timezone="UTC", now=NOW
    )
    await pool.execute("INSERT INTO subscriber_series VALUES ($1, $2)", ana, daily["series_id"])
    second = await digests.create_digest(pool, settings, daily["series_id"], now=NOW)
    assert second is not None
    await digests.edit_digest(
        pool, settings, second, item_ids=[items["Old story"], items["New story"]]
    )
    preview = await digests.preview(pool, settings, second, subscriber="ana@example.org")
    assert "New story" in preview["text"] and "Old story" not in preview["text"]
    assert await digests.start(pool, settings, second) == 1
    carried = await pool.fetchval("SELECT item_ids FROM deliveries WHERE mailing_id = $1", second)
    assert carried == [items["New story"]]


def test_weekly_schedule_keeps_local_time_across_daylight_saving() -> None:
    before = datetime(2026, 10, 20, 14, 0, tzinfo=UTC)  # Tue 10:00 EDT
    first = series.next_occurrence("0 9 * * tue", "America/New_York", before)
    second = series.next_occurrence("0 9 * * tue", "America/New_York", first)  # type: ignore[arg-type]
    assert first is not None and second is not None
    assert first.astimezone(UTC) == datetime(2026, 10, 27, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert second.astimezone(UTC) == datetime(2026, 11, 3, 14, 0, tzinfo=UTC)  # 09:00 EST
    with pytest.raises(InvalidInput, match="invalid series"):
        series.trigger("0 9 * * tue", "Mars/Olympus_Mons")
    with pytest.raises(InvalidInput):
        series.trigger("every tuesday", "UTC")


async def test_a_due_series_makes_one_digest_even_with_two_instances_and_missed_ticks(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int], weekly: int
) -> None:
    await add_items(pool, newsroom, [("Story", "overdose-prevention")])
    settings = engine_settings(tmp_path)
    due = await pool.fetchval("SELECT next_run_at FROM series WHERE series_id = $1", weekly)
    three_weeks_later = due + timedelta(days=21, minutes=5)  # the service was down
    made = await asyncio.gather(
        digests.tick_series(pool, settings, now=three_weeks_later),
        digests.tick_series(pool, settings, now=three_weeks_later),
    )
    assert sorted(len(m) for m in made) == [0, 1]  # one digest, not one per missed week
    assert await pool.fetchval("SELECT count(*) FROM mailings WHERE kind = 'digest'") == 1
    assert await digests.tick_series(pool, settings, now=three_weeks_later) == []
    upcoming = await pool.fetchval("SELECT next_run_at FROM series WHERE series_id = $1", weekly)
    assert upcoming > three_weeks_later
    status = await pool.fetchval("SELECT status FROM mailings")
    assert status == "draft"  # draft mode: the editors are told
    assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'digest.drafted'") == 1


async def test_auto_series_sends_without_a_human(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int]
) -> None:
    await add_items(pool, newsroom, [("Story", "overdose-prevention")])
    auto = await series.create_series(
        pool, name="Auto", cron="*/5 * * * *", timezone="UTC", now=NOW, mode="auto"
    )
    await add_reader(
        pool, "a@example.org", None, [newsroom["overdose-prevention"]], auto["series_id"]
    )
    settings = engine_settings(tmp_path)
    later = NOW + timedelta(minutes=6)
    (made,) = await digests.tick_series(pool, settings, now=later)
    assert await digests.send_due(pool, settings, now=later) == [made]
    assert await statuses(pool, made) == {"queued": 1}


async def test_an_auto_digest_that_could_not_be_scheduled_is_on_the_next_tick(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int]
) -> None:
    # The tick made the digest, then the database failed before it was scheduled: the
    # series had moved on already, and the digest stayed a draft nobody would send.
    await add_items(pool, newsroom, [("Story", "overdose-prevention")])
    auto = await series.create_series(
        pool, name="Auto", cron="*/5 * * * *", timezone="UTC", now=NOW, mode="auto"
    )
    settings = engine_settings(tmp_path)
    later = NOW + timedelta(minutes=6)
    await pool.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = '53100'; END $$; "
        "CREATE TRIGGER refuse BEFORE UPDATE ON mailings FOR EACH ROW "
        "WHEN (NEW.status = 'scheduled') EXECUTE FUNCTION refuse()"
    )
    with pytest.raises(asyncpg.DiskFullError):
        await digests.tick_series(pool, settings, now=later)
    await pool.execute("DROP TRIGGER refuse ON mailings")
    (draft,) = await pool.fetch("SELECT mailing_id, status FROM mailings")
    assert draft["status"] == "draft"
    # A draft made seconds ago may be another instance's, being scheduled right now.
    assert await digests.tick_series(pool, settings, now=later + timedelta(seconds=5)) == []
    assert await pool.fetchval("SELECT status FROM mailings") == "draft"
    await pool.execute("UPDATE mailings SET created_at = created_at - interval '1 minute'")
    assert await digests.tick_series(pool, settings, now=later + timedelta(seconds=65)) == []
    assert await pool.fetchval("SELECT status FROM mailings") == "scheduled"
    moved_to = await pool.fetchval(
        "SELECT next_run_at FROM series WHERE series_id = $1", auto["series_id"]
    )
    assert moved_to > later


async def test_bad_input_is_refused_clearly(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int], weekly: int
) -> None:
    settings = engine_settings(tmp_path)
    empty = await digests.create_digest(pool, settings, weekly, now=NOW)
    assert empty is not None
    with pytest.raises(Conflict, match="no items"):
        await digests.schedule(pool, settings, empty, NOW + timedelta(hours=1), now=NOW)
    with pytest.raises(InvalidInput, match="invalid schedule"):
        await digests.schedule(pool, settings, empty, NOW - timedelta(hours=1), now=NOW)
    items = await add_items(pool, newsroom, [("Story", "overdose-prevention")])
    await digests.edit_digest(pool, settings, empty, item_ids=[items["Story"]])
    with pytest.raises(InvalidInput, match="invalid digest"):
        await digests.edit_digest(pool, settings, empty, item_ids=[999_999])
    # A broken template override stops the send, with the reason, and nothing is sent.
    override = tmp_path / "templates" / "email" / "digest"
    override.mkdir(parents=True)
    (override / "subject.txt").write_text("{{ subject }}\n")
    (override / "body.txt").write_text("{% for x in %}\n")
    with pytest.raises(Conflict, match="template is broken"):
        await digests.start(pool, settings, empty)
    assert (
        await pool.fetchval("SELECT status FROM mailings WHERE mailing_id = $1", empty) == "draft"
    )
    for path in override.iterdir():
        path.unlink()
    override.rmdir()
    await add_reader(pool, "a@example.org", None, [newsroom["overdose-prevention"]], weekly)
    assert await digests.start(pool, settings, empty) == 1
    with pytest.raises(Conflict, match="can no longer be changed"):
        await digests.edit_digest(pool, settings, empty, subject="Too late")
    # A series renamed to nothing or to a novel is refused with the field, not a 500.
    for name in ("  ", "x" * 101):
        with pytest.raises(InvalidInput) as refused:
            await series.update_series(pool, weekly, now=NOW, name=name)
        assert refused.value.fields == {"name": "1 to 100 characters"}


async def test_editor_api_for_series_and_digests(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int], aiohttp_client: ClientFactory
) -> None:
    settings = replace(engine_settings(tmp_path))
    client: Client = await aiohttp_client(create_app(settings, pool))
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "editor", "admin")
    h = {"Authorization": f"Bearer {key}"}
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert "/digests/{mailing_id}/schedule" in spec["paths"]
    bad_tz = await client.post(
        "/api/v1/series",
        json={"name": "X", "cron": "0 9 * * *", "timezone": "Nowhere/City"},
        headers=h,
    )
    assert bad_tz.status == 400
    assert "timezone" in (await bad_tz.json())["error"]["fields"]
    created = await client.post(
        "/api/v1/series",
        json={"name": "Weekly", "cron": "0 9 * * tue", "timezone": "Europe/Lisbon"},
        headers=h,
    )
    assert created.status == 201
    series_id = (await created.json())["series_id"]
    items = await add_items(
        pool, newsroom, [("A", "overdose-prevention"), ("B", "tobacco-control")]
    )
    digest = await (
        await client.post("/api/v1/digests", json={"series_id": series_id}, headers=h)
    ).json()
    mailing_id = digest["mailing_id"]
    edited = await client.patch(
        f"/api/v1/digests/{mailing_id}",
        json={
            "subject": "This week",
            "intro_md": "**Hello** <script>x</script>",
            "items": [items["B"], items["A"]],
        },
        headers=h,
    )
    assert edited.status == 200
    content = (await edited.json())["content"]
    assert content["intro_html"] == "<p><strong>Hello</strong> &lt;script&gt;x&lt;/script&gt;</p>"
    preview = await client.get(f"/api/v1/digests/{mailing_id}/preview?format=html", headers=h)
    assert "This week" in await preview.text()
    assert preview.headers["Content-Security-Policy"].startswith("sandbox")
    past = await client.post(
        f"/api/v1/digests/{mailing_id}/schedule", json={"send_at": "2020-01-01T09:00Z"}, headers=h
    )
    assert past.status == 400
    naive = await client.post(
        f"/api/v1/digests/{mailing_id}/schedule", json={"send_at": "2030-01-01T09:00"}, headers=h
    )
    assert naive.status == 400
    test = await client.post(
        f"/api/v1/digests/{mailing_id}/test-send", json={"addresses": ["qa@example.org"]}, headers=h
    )
    assert test.status == 202
    assert await pool.fetchval("SELECT payload->>'preview_of' FROM deliveries") == str(mailing_id)
    scheduled = await client.post(
        f"/api/v1/digests/{mailing_id}/schedule", json={"send_at": "2030-01-01T09:00Z"}, headers=h
    )
    assert (await scheduled.json())["status"] == "scheduled"
    cancelled = await client.post(f"/api/v1/digests/{mailing_id}/cancel", headers=h)
    assert (await cancelled.json())["status"] == "cancelled"
    again = await client.post(f"/api/v1/digests/{mailing_id}/send-now", headers=h)
    assert again.status == 409
    listed = await (await client.get("/api/v1/digests?status=cancelled", headers=h)).json()
    assert [d["mailing_id"] for d in listed["digests"]] == [mailing_id]
    # A series goes once no digest needs it; its cancelled digest stays.
    draft = await (
        await client.post("/api/v1/digests", json={"series_id": series_id}, headers=h)
    ).json()
    in_use = await client.delete(f"/api/v1/series/{series_id}", headers=h)
    assert in_use.status == 409
    assert "unfinished digest" in (await in_use.json())["error"]["message"]
    await client.post(f"/api/v1/digests/{draft['mailing_id']}/cancel", headers=h)
    assert (await client.delete(f"/api/v1/series/{series_id}", headers=h)).status == 204
    assert (await client.delete(f"/api/v1/series/{series_id}", headers=h)).status == 404
    assert await pool.fetchval("SELECT count(*) FROM mailings WHERE series_id IS NULL") == 2


async def test_test_send_reaches_the_sink_marked_as_test(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    newsroom: dict[str, int], weekly: int,
) -> None:  # fmt: skip
    settings = engine_settings(tmp_path)
    await add_items(pool, newsroom, [("Story", "overdose-prevention")])
    mailing_id = await digests.create_digest(pool, settings, weekly, now=NOW)
    assert mailing_id is not None
    await digests.test_send(pool, settings, mailing_id, ["qa@example.org", "Ed@Example.org"])
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(2)
    subjects = Counter(m.message["Subject"] for m in smtp_sink.received)
    assert list(subjects) == [
        f"[Test] Weekly public health news — {NOW.astimezone(NEW_YORK):%d %B %Y}"
    ]
    assert (
        await pool.fetchval("SELECT status FROM mailings WHERE mailing_id = $1", mailing_id)
        == "draft"
    )


async def test_two_instances_start_a_scheduled_digest_once(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int], weekly: int
) -> None:
    settings = engine_settings(tmp_path)
    await add_items(pool, newsroom, [("Story", "overdose-prevention")])
    await add_reader(pool, "a@example.org", None, [newsroom["overdose-prevention"]], weekly)
    mailing_id = await digests.create_digest(pool, settings, weekly, now=NOW)
    assert mailing_id is not None
    await digests.schedule(pool, settings, mailing_id, NOW, now=NOW)
    started = await asyncio.gather(
        digests.send_due(pool, settings, now=NOW + timedelta(seconds=1)),
        digests.send_due(pool, settings, now=NOW + timedelta(seconds=1)),
    )
    assert sorted(len(s) for s in started) == [0, 1]
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 1
    assert await pool.fetchval("SELECT count(*) FROM events WHERE type = 'digest.sending'") == 1


async def test_an_item_that_reaches_the_feed_after_the_last_digest_is_in_the_next(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int], weekly: int
) -> None:
    settings = engine_settings(tmp_path)
    await add_items(pool, newsroom, [("Early story", "overdose-prevention")])
    first = await digests.create_digest(pool, settings, weekly, now=NOW)
    await pool.execute(
        "UPDATE mailings SET status = 'sent', started_at = now() WHERE mailing_id = $1", first
    )
    # Published (by its date) an hour before that digest went out, but only in the feed now,
    # and from a feed added today whose month-old archive must not flood the next digest.
    await asyncio.sleep(0.01)
    late = ParsedItem(
        guid="late", link="https://news.example.org/late", title="Late story",
        summary_html="<p>Late.</p>", summary_text="Late.",
        published_at=datetime.now(UTC) - timedelta(hours=1),
    )  # fmt: skip
    archived = replace(
        late, guid="old", link="https://news.example.org/old", title="Archived story",
        published_at=datetime.now(UTC) - timedelta(days=30),
    )  # fmt: skip
    async with pool.acquire() as conn, conn.transaction():
        source_id = await conn.fetchval("SELECT source_id FROM feed_sources WHERE kind = 'push'")
        await store_items(
            conn, source_id, [late, archived], lambda _: [newsroom["overdose-prevention"]]
        )
    second = await digests.create_digest(pool, settings, weekly, now=datetime.now(UTC))
    titles = await pool.fetch(
        "SELECT i.title FROM mailing_items mi JOIN items i USING (item_id) WHERE mailing_id = $1",
        second,
    )
    assert [r["title"] for r in titles] == ["Late story"]


async def test_an_item_hidden_after_assembly_is_not_sent(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int], weekly: int
) -> None:
    items = await add_items(pool, newsroom, [
        ("Kept story", "overdose-prevention"), ("Retracted story", "overdose-prevention"),
        ("Pulled road story", "road-safety"),
    ])  # fmt: skip
    await add_reader(pool, "ana@example.org", "Ana", [newsroom["overdose-prevention"]], weekly)
    await add_reader(pool, "ben@example.org", None, [newsroom["road-safety"]], weekly)
    settings = engine_settings(tmp_path)
    mailing_id = await digests.create_digest(pool, settings, weekly, now=NOW)
    assert mailing_id is not None
    # The CMS pulls two stories (or a retraction hides one) while the digest is a draft.
    for title in ("Retracted story", "Pulled road story"):
        await edit_item(pool, items[title], hidden=True)
    preview = await digests.preview(pool, settings, mailing_id)
    assert "Kept story" in preview["text"] and "Retracted story" not in preview["text"]
    assert await digests.count_recipients(pool, mailing_id) == 1
    assert await digests.start(pool, settings, mailing_id) == 1  # Ben is left with nothing
    carried = await pool.fetch(
        "SELECT recipient, item_ids FROM deliveries WHERE mailing_id = $1", mailing_id
    )
    assert [tuple(r) for r in carried] == [("ana@example.org", [items["Kept story"]])]


async def test_an_occurrence_whose_digest_failed_is_made_on_the_next_tick(
    pool: asyncpg.Pool, tmp_path: Path, newsroom: dict[str, int], weekly: int
) -> None:
    await add_items(pool, newsroom, [("Story", "overdose-prevention")])
    settings = engine_settings(tmp_path)
    due = await pool.fetchval("SELECT next_run_at FROM series WHERE series_id = $1", weekly)
    # The database refuses the digest once (a failover, a full disk): the tick fails, and the
    # scheduler runs it again shortly, as it does after any database error.
    await pool.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'disk full' USING ERRCODE = '53100'; END $$; "
        "CREATE TRIGGER refuse BEFORE INSERT ON mailings FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    with pytest.raises(asyncpg.DiskFullError):
        await digests.tick_series(pool, settings, now=due + timedelta(seconds=3))
    await pool.execute("DROP TRIGGER refuse ON mailings")
    made = await digests.tick_series(pool, settings, now=due + timedelta(seconds=8))
    assert len(made) == 1
    occurrence = await pool.fetchval(
        "SELECT occurrence_at FROM mailings WHERE mailing_id = $1", made[0]
    )
    assert occurrence == due
    assert await digests.tick_series(pool, settings, now=due + timedelta(seconds=13)) == []
