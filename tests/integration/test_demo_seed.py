"""The first run's demo data: seeded once per database (never twice, never into a database
that has data, never half), read by the real feed poller from the service itself through
the one exception to the SSRF guard, and the start page and demo feed that go with it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import asyncpg
import feedparser
from aiohttp.test_utils import TestServer

from mailer.accounts import editors
from mailer.audience.topics import create_topic, delete_topic, list_topics
from mailer.config import Env
from mailer.content.feeds import poll_due
from mailer.db import open_pool
from mailer.demo.content import DEMO_ADMIN_EMAIL, DEMO_SERIES_NAME, DEMO_TOPICS
from mailer.demo.seed import demo_state, follow_listen_address, seed_once
from mailer.fetch import make_session
from mailer.web import keys
from mailer.web.app import create_app
from tests.support.console import add_editor, console_app, signed_in
from tests.support.console_admin import ADMIN, post
from tests.support.factories import engine_settings
from tests.support.helpers import ClientFactory
from tests.support.process import free_port

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEMO_ITEMS = 12


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM topics) AS topics, (SELECT count(*) FROM series) AS series, "
        "(SELECT count(*) FROM editors) AS editors, "
        "(SELECT count(*) FROM feed_sources WHERE kind = 'feed') AS feeds"
    )
    assert row is not None
    return dict(row)


async def test_an_empty_database_is_seeded_once(pool: asyncpg.Pool, tmp_path: Path) -> None:
    settings = engine_settings(tmp_path)
    seeded = await seed_once(pool, settings, now=NOW)
    assert seeded is not None
    assert await counts(pool) == {"topics": 4, "series": 1, "editors": 1, "feeds": 1}
    assert [(t.name, t.public) for t in await list_topics(pool)] == [
        (name, True) for name in DEMO_TOPICS
    ]
    weekly = await pool.fetchrow("SELECT * FROM series")
    assert weekly is not None
    assert (weekly["name"], weekly["mode"], weekly["is_default"]) == (
        DEMO_SERIES_NAME,
        "draft",
        True,
    )
    assert weekly["next_run_at"] == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # next Monday 09:00
    source = await pool.fetchrow("SELECT * FROM feed_sources WHERE kind = 'feed'")
    assert source is not None
    assert source["url"] == "http://127.0.0.1:8080/demo/feed.xml"
    assert source["category_rules"] == {
        "overdose prevention": ["overdose-prevention"],
        "tobacco control": ["tobacco-control"],
        "road safety": ["road-safety"],
        "environmental health": ["environmental-health"],
    }
    # The printed password signs the admin in; the database keeps only its argon2 hash.
    admin = await editors.find_editor(pool, DEMO_ADMIN_EMAIL)
    assert admin["role"] == "admin"
    assert seeded.admin_password not in admin["password_hash"]
    assert len(seeded.admin_password) >= editors.MIN_PASSWORD
    assert admin["must_change_password"]  # printed for anyone to read: replaced first
    assert (
        await editors.authenticate(
            pool, email=DEMO_ADMIN_EMAIL, password=seeded.admin_password, ip="127.0.0.1"
        )
        == admin["editor_id"]
    )

    assert await seed_once(pool, settings, now=NOW) is None  # the next start
    for topic in await list_topics(pool):  # an editor deletes the demo topics...
        await delete_topic(pool, topic.slug)
    await pool.execute("DELETE FROM editors")
    assert await seed_once(pool, settings, now=NOW) is None  # ...and they stay deleted
    assert (await counts(pool))["topics"] == 0
    state = await demo_state(pool)
    assert state is not None
    assert state.seeded


async def test_a_database_with_data_gets_no_demo(pool: asyncpg.Pool, tmp_path: Path) -> None:
    await create_topic(pool, name="Mental Health")
    assert await seed_once(pool, engine_settings(tmp_path), now=NOW) is None
    assert await counts(pool) == {"topics": 1, "series": 0, "editors": 0, "feeds": 0}
    state = await demo_state(pool)
    assert state is not None
    assert not state.seeded  # decided for good: emptying it later seeds nothing
    await delete_topic(pool, "mental-health")
    assert await seed_once(pool, engine_settings(tmp_path), now=NOW) is None
    assert (await counts(pool))["topics"] == 0


async def test_instances_starting_together_seed_once(db_url: str, tmp_path: Path) -> None:
    settings = engine_settings(tmp_path)
    pools = [await open_pool(db_url, max_size=2) for _ in range(3)]
    try:
        results = await asyncio.gather(*(seed_once(p, settings, now=NOW) for p in pools))
        assert sum(r is not None for r in results) == 1
        assert await counts(pools[0]) == {"topics": 4, "series": 1, "editors": 1, "feeds": 1}
    finally:
        for p in pools:
            await p.close()


async def test_the_poller_reads_the_demo_feed_from_the_service_itself(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    port = free_port()
    settings = engine_settings(tmp_path, listen_port=port, base_url=f"http://127.0.0.1:{port}")
    assert await seed_once(pool, settings, now=datetime.now(UTC)) is not None
    server = TestServer(create_app(settings, pool), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        async with make_session(allow_private=False) as session:
            # Without the exception the guard refuses loopback, as for any other feed.
            (refused,) = await poll_due(pool, session, allow_private=False)
            assert refused.error is not None
            assert "private or loopback" in refused.error
            await pool.execute("UPDATE feed_sources SET next_poll_at = now()")
            (first,) = await poll_due(
                pool, session, allow_private=False, trusted=settings.feed_trusted_urls
            )
            assert (first.status, first.created, first.error) == (200, DEMO_ITEMS, None)
            await pool.execute("UPDATE feed_sources SET next_poll_at = now()")
            (again,) = await poll_due(
                pool, session, allow_private=False, trusted=settings.feed_trusted_urls
            )
            assert (again.created, again.unchanged) == (0, DEMO_ITEMS)  # the same bytes
    finally:
        await server.close()
    per_topic = await pool.fetch(
        "SELECT t.name, count(*) AS n FROM items i JOIN topics t ON t.topic_id = ANY (i.topic_ids) "
        "GROUP BY t.name ORDER BY t.name"
    )
    assert {r["name"]: r["n"] for r in per_topic} == {
        "Environmental Health": 3,
        "Overdose Prevention": 3,
        "Road Safety": 4,  # one story is filed under two topics
        "Tobacco Control": 3,
    }
    span = await pool.fetchrow("SELECT min(published_at), max(published_at) FROM items")
    assert span is not None
    assert datetime.now(UTC) - timedelta(days=7) < span[0] < span[1] < datetime.now(UTC)


async def test_poll_now_in_the_console_reads_the_demo_feed(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    port = free_port()
    app = console_app(pool, tmp_path, listen_port=port)
    assert await seed_once(pool, app[keys.settings_key], now=datetime.now(UTC)) is not None
    await add_editor(pool, ADMIN, role="admin", name="Root")
    client = await aiohttp_client(TestServer(app, host="127.0.0.1", port=port))
    csrf = await signed_in(client, ADMIN)
    source_id = await pool.fetchval("SELECT source_id FROM feed_sources WHERE kind = 'feed'")
    response = await post(client, f"/console/feeds/{source_id}/poll", csrf)
    assert response.status == 303
    source = await pool.fetchrow("SELECT * FROM feed_sources WHERE source_id = $1", source_id)
    assert source is not None
    assert (source["last_status"], source["last_error"]) == (200, None)
    assert await pool.fetchval("SELECT count(*) FROM items") == DEMO_ITEMS


async def test_the_demo_source_follows_the_listen_address(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    settings = engine_settings(tmp_path)
    await seed_once(pool, settings, now=NOW)
    assert not await follow_listen_address(pool, settings)
    moved = replace(settings, listen_port=8081)
    assert await follow_listen_address(pool, moved)
    url = await pool.fetchval("SELECT url FROM feed_sources WHERE kind = 'feed'")
    assert url == "http://127.0.0.1:8081/demo/feed.xml"


async def test_start_page_in_development(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    settings = engine_settings(tmp_path)
    client = await aiohttp_client(create_app(settings, pool))
    page = await (await client.get("/")).text()
    assert "The demo data is being seeded" in page  # between the start and the seeding
    await seed_once(pool, settings, now=NOW)
    page = await (await client.get("/")).text()
    seeded_at = await pool.fetchval("SELECT decided_at FROM demo_seed")
    assert f"Demo data was seeded on {seeded_at:%d %B %Y at %H:%M} UTC" in page
    assert DEMO_ADMIN_EMAIL in page
    for href in ("/subscribe", "/console/", "/dev/outbox", "/archive", "/api/v1/openapi.json"):
        assert f'href="{href}"' in page, href
    assert "Try this" in page

    quiet = await aiohttp_client(create_app(replace(settings, demo=False), pool))
    assert "Demo data was seeded" in await (await quiet.get("/")).text()


async def test_start_page_without_demo_says_how_to_get_it(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(engine_settings(tmp_path, demo=False), pool))
    assert "No demo data: mailer was started with" in await (await client.get("/")).text()
    await create_topic(pool, name="Mental Health")
    await seed_once(pool, engine_settings(tmp_path), now=NOW)
    page = await (await client.get("/")).text()
    assert "This database had data when mailer first started" in page


async def test_production_front_page_is_plain_and_has_no_demo_feed(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    settings = replace(engine_settings(tmp_path), env=Env.PRODUCTION, demo=False)
    client = await aiohttp_client(create_app(settings, pool))
    page = await (await client.get("/")).text()
    assert 'href="/subscribe"' in page
    assert 'href="/archive"' in page
    for development_only in ("/dev/outbox", "/console/", "openapi", "demo", "Try this"):
        assert development_only not in page, development_only
    assert (await client.get("/demo/feed.xml")).status == 404


async def test_demo_feed_is_dated_from_the_seeding(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    settings = engine_settings(tmp_path)
    client = await aiohttp_client(create_app(settings, pool))
    await seed_once(pool, settings, now=NOW)
    seeded_at = await pool.fetchval("SELECT decided_at FROM demo_seed")
    response = await client.get("/demo/feed.xml")
    assert response.status == 200
    assert response.content_type == "application/rss+xml"
    body = await response.read()
    assert body == await (await client.get("/demo/feed.xml")).read()  # stable between polls
    feed = feedparser.parse(body)
    assert not feed.bozo
    built = parsedate_to_datetime(feed.feed.updated)
    assert built == seeded_at.replace(microsecond=0)
    published = [parsedate_to_datetime(e.published) for e in feed.entries]
    assert len(published) == DEMO_ITEMS
    assert all(built - timedelta(days=6) < p < built for p in published)
