"""Feeds end to end: a local HTTP server serves fixture feeds; items land in PostgreSQL."""

import asyncio
import gzip
import io
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailer.accounts.api_keys import create_api_key
from mailer.audience.topics import create_topic
from mailer.content import feeds
from mailer.errors import Conflict, InvalidInput
from mailer.fetch import make_session
from mailer.signatures import sign
from mailer.web.app import create_app
from tests.support.factories import engine_settings
from tests.support.helpers import ClientFactory

FIXTURES = Path(__file__).parents[1] / "fixtures" / "feeds"


@dataclass
class FeedServer:
    server: TestServer
    hits: dict[str, int] = field(default_factory=dict)
    etag_seen: list[str | None] = field(default_factory=list)
    mutable: bytes = b""

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


def many_items(count: int) -> bytes:
    items = [
        {"id": f"n{i}", "url": f"https://many.example.org/{i}", "title": f"Item {i}",
         "content_html": f"<p>Summary {i}</p>", "date_published": "2026-11-20T10:00:00Z"}
        for i in range(count)
    ]  # fmt: skip
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    state = FeedServer(server=None)  # type: ignore[arg-type]

    async def fixture(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        state.hits[name] = state.hits.get(name, 0) + 1
        body = (FIXTURES / name).read_bytes()
        kinds = {"json": "application/feed+json", "html": "text/html"}
        return web.Response(
            body=body, content_type=kinds.get(name.rsplit(".")[-1], "application/xml")
        )

    async def etag(request: web.Request) -> web.Response:
        state.etag_seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        body = (FIXTURES / "rss2.xml").read_bytes()
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/f/rss1.xml")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/xml"
        await response.prepare(request)
        chunk = b"<!-- padding -->" * 4096
        for _ in range(6 * 1024 * 1024 // len(chunk) + 1):
            await response.write(chunk)
        return response

    async def gzipped(request: web.Request) -> web.Response:
        body = gzip.compress((FIXTURES / "atom.xml").read_bytes())
        return web.Response(
            body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/atom+xml"}
        )

    async def many(request: web.Request) -> web.Response:
        return web.Response(body=many_items(10_000), content_type="application/feed+json")

    async def mutable(request: web.Request) -> web.Response:
        return web.Response(body=state.mutable, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/f/{name}", fixture)
    app.router.add_get("/etag", etag)
    app.router.add_get("/loop", loop)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/slow", slow)
    app.router.add_get("/big", big)
    app.router.add_get("/gzip", gzipped)
    app.router.add_get("/many", many)
    app.router.add_get("/mutable", mutable)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.server = server
    yield state
    await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with make_session(allow_private=True, timeout=1.5) as client:
        yield client


@pytest.fixture
async def topic_ids(pool: asyncpg.Pool) -> dict[str, int]:
    made = [
        await create_topic(pool, name=name)
        for name in ("Overdose Prevention", "Tobacco Control", "Environmental Health")
    ]
    return {t.slug: t.topic_id for t in made}


async def poll(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    url: str,
    *,
    allow_private: bool = True,
    **options: object,
) -> feeds.PollResult:
    source = await feeds.create_source(pool, url=url, **options)  # type: ignore[arg-type]
    (result,) = await feeds.poll_now(
        pool, session, source["source_id"], allow_private=allow_private
    )
    return result


async def test_each_format_is_read_sanitised_and_tagged(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    feed_server: FeedServer,
    topic_ids: dict[str, int],
) -> None:
    rss = await poll(
        pool, session, feed_server.url("/f/rss2.xml"),
        topics=["overdose-prevention"], category_rules={"tobacco": ["tobacco-control"]},
    )  # fmt: skip
    assert (rss.created, rss.error) == (3, None)
    for path in ("/f/rss1.xml", "/f/atom.xml", "/f/feed.json"):
        result = await poll(pool, session, feed_server.url(path))
        assert result.error is None, result
    rows = {r["title"]: r for r in await pool.fetch("SELECT * FROM items")}
    naloxone = rows["Naloxone vending machines arrive at three libraries"]
    assert naloxone["link"] == "https://health.example.org/news/naloxone-vending?id=7"
    assert "<script" not in naloxone["summary_html"] and "onclick" not in naloxone["summary_html"]
    assert 'href="https://health.example.org/news/naloxone-faq"' in naloxone["summary_html"]
    assert naloxone["image_url"] == "https://health.example.org/img/vending.jpg"
    assert naloxone["categories"] == ["Opioids", "Community"]
    assert naloxone["topic_ids"] == [topic_ids["overdose-prevention"]]
    parks = rows["Smoke-free parks: what changes in January"]
    assert sorted(parks["topic_ids"]) == sorted(
        [topic_ids["overdose-prevention"], topic_ids["tobacco-control"]]
    )
    crossings = rows["Interview: a traffic engineer on safer crossings"]
    assert crossings["published_at"] == crossings["first_seen_at"]  # no date: first seen
    assert rows["Flu shots on Saturdays in December"]["categories"] == ["Vaccination"]
    lead = rows["Lead testing finds fewer hot spots"]
    assert (lead["author"], lead["language"]) == ("Dr. Ana Ruiz", "es")
    assert "javascript" not in lead["summary_html"] and "iframe" not in lead["summary_html"]
    heat = rows["Heat waves and older neighbours"]
    assert heat["link"] == "https://harbor.example.org/episodes/42"
    # The Atom feed's copy of the smoke-free story is the same item (same canonical link).
    assert "Same story, also in the county feed" not in rows
    assert len(rows) == 3 + 1 + 1 + 2


async def test_polls_deduplicate_and_update_not_duplicate(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    feed_server: FeedServer,
    topic_ids: dict[str, int],
) -> None:
    original = (FIXTURES / "rss2.xml").read_bytes()
    feed_server.mutable = original
    source = await feeds.create_source(pool, url=feed_server.url("/mutable"))
    (first,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    (second,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert (first.created, second.created, second.unchanged) == (3, 0, 3)
    feed_server.mutable = original.replace(b"Free kits are now", b"Free kits (updated) are now")
    (third,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert (third.created, third.updated) == (0, 1)
    assert await pool.fetchval("SELECT count(*) FROM items") == 3
    assert "updated" in await pool.fetchval(
        "SELECT summary_html FROM items WHERE guid = 'rhd-2026-0101'"
    )


async def test_conditional_get_and_failures_back_off_without_losing_items(
    pool: asyncpg.Pool, session: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    source = await feeds.create_source(pool, url=feed_server.url("/etag"), poll_interval=60)
    (fresh,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    (again,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert (fresh.status, again.status) == (200, 304)
    assert feed_server.etag_seen == [None, '"v1"']
    # The same source starts failing: its items stay, it backs off and shows the error.
    await pool.execute(
        "UPDATE feed_sources SET url = $1 WHERE source_id = $2",
        feed_server.url("/loop"),
        source["source_id"],
    )
    (broken,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert broken.error == "more than 3 redirects"
    row = await pool.fetchrow(
        "SELECT * FROM feed_sources WHERE source_id = $1", source["source_id"]
    )
    assert row is not None
    assert (row["failures"], row["last_error"]) == (1, "more than 3 redirects")
    assert (row["next_poll_at"] - row["last_polled_at"]).total_seconds() >= 119  # doubled
    assert await pool.fetchval("SELECT count(*) FROM items") == 3


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/slow", "did not answer in time"),
        ("/big", "larger than 5 MB"),
        ("/f/page.html", "not a readable feed"),
        ("/nothing-here", "HTTP 404"),
    ],
)
async def test_bad_sources_record_a_clear_error(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    feed_server: FeedServer,
    path: str,
    error: str,
) -> None:
    result = await poll(pool, session, feed_server.url(path))
    assert result.error is not None and error in result.error
    assert (
        await pool.fetchval("SELECT last_error FROM feed_sources WHERE kind = 'feed'")
        == result.error
    )


async def test_redirect_gzip_malformed_future_and_entity_bomb(
    pool: asyncpg.Pool, session: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    assert (await poll(pool, session, feed_server.url("/redirect"))).created == 1
    assert (await poll(pool, session, feed_server.url("/gzip"))).created == 2
    malformed = await poll(pool, session, feed_server.url("/f/malformed.xml"))
    assert malformed.created == 3
    assert malformed.warning is not None and "malformed" in malformed.warning
    future = await poll(pool, session, feed_server.url("/f/future.xml"))
    assert future.warning is not None and "future" in future.warning
    published, seen = await pool.fetchrow(  # type: ignore[misc]
        "SELECT published_at, first_seen_at FROM items WHERE link = 'https://future.example.org/a'"
    )
    assert published == seen
    before = await pool.fetchval("SELECT count(*) FROM items")
    for name in ("bomb.xml", "external-entity.xml"):  # refused with a recorded error
        refused = await poll(pool, session, feed_server.url(f"/f/{name}"))
        assert refused.error is not None and "declares entities" in refused.error
        assert await pool.fetchval(
            "SELECT last_error FROM feed_sources WHERE url = $1", feed_server.url(f"/f/{name}")
        ) == refused.error  # fmt: skip
    assert await pool.fetchval("SELECT count(*) FROM items") == before
    assert not await pool.fetchval("SELECT count(*) FROM items WHERE title LIKE '%&lol%'")


async def test_ten_thousand_items_then_all_duplicates(
    pool: asyncpg.Pool, session: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    source = await feeds.create_source(pool, url=feed_server.url("/many"))
    (first,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    (second,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert (first.created, second.created, second.unchanged) == (10_000, 0, 10_000)


async def test_private_addresses_are_refused_unless_allowed(
    pool: asyncpg.Pool, feed_server: FeedServer
) -> None:
    async with make_session(allow_private=False, timeout=2) as strict:
        literal = await poll(pool, strict, feed_server.url("/f/rss2.xml"), allow_private=False)
        assert literal.error == "the feed URL points to a private or loopback address"
        named = feed_server.url("/f/rss1.xml").replace("127.0.0.1", "localhost")
        by_name = await poll(pool, strict, named, allow_private=False)
        assert by_name.error is not None and "private or loopback" in by_name.error
    with pytest.raises(InvalidInput):
        await feeds.create_source(pool, url="ftp://files.example.org/feed")
    with pytest.raises(InvalidInput):
        await feeds.create_source(pool, url="file:///etc/passwd")


async def test_due_sources_are_polled_once_by_concurrent_instances(
    pool: asyncpg.Pool, session: aiohttp.ClientSession, feed_server: FeedServer
) -> None:
    for name in ("rss2.xml", "rss1.xml", "atom.xml"):
        await feeds.create_source(pool, url=feed_server.url(f"/f/{name}"))
    results = await asyncio.gather(
        feeds.poll_due(pool, session, allow_private=True),
        feeds.poll_due(pool, session, allow_private=True),
    )
    assert sorted(len(r) for r in results) in ([0, 3], [1, 2])
    assert sum(feed_server.hits.values()) == 3
    assert await feeds.poll_due(pool, session, allow_private=True) == []  # not due again yet


# ---------------------------------------------------------------- CMS push and editors

WEBHOOK_SECRET = "cms-webhook-secret-0001"


@pytest.fixture
async def client(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory
) -> TestClient[web.Request, web.Application]:
    settings = dc_replace(engine_settings(tmp_path), webhook_secrets=(WEBHOOK_SECRET,))
    return await aiohttp_client(create_app(settings, pool))


async def push(
    client: TestClient[web.Request, web.Application], payload: object, secret: str = WEBHOOK_SECRET
) -> aiohttp.ClientResponse:
    body = json.dumps(payload).encode()
    return await client.post(
        "/webhooks/content",
        data=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Mailer-Signature": sign(secret, body)},
    )


async def test_cms_push_upserts_deletes_and_hides(
    client: TestClient[web.Request, web.Application], pool: asyncpg.Pool, topic_ids: dict[str, int]
) -> None:
    item = {
        "id": "cms-1",
        "title": "Press release: new clinic",
        "url": "https://health.example.org/pr/1",
        "summary_html": "<p>Opens Monday.</p><script>x()</script>",
        "topics": ["overdose-prevention"],
        "published": "2026-11-25T08:00:00Z",
    }
    one = await push(client, item)
    assert one.status == 202
    answer = await one.json()
    assert answer["items"][0]["id"] == "cms-1" and isinstance(answer["items"][0]["item_id"], int)
    batch = await push(client, {"items": [{**item, "title": "Press release: new clinic (updated)"},
                                          {"id": 2, "title": "Second"}]})  # fmt: skip
    assert batch.status == 202
    rows = await pool.fetch("SELECT guid, title, summary_html, topic_ids FROM items ORDER BY guid")
    assert [(r["guid"], r["title"]) for r in rows] == [
        ("2", "Second"),
        ("cms-1", "Press release: new clinic (updated)"),
    ]
    assert rows[1]["summary_html"] == "<p>Opens Monday.</p>"
    assert rows[1]["topic_ids"] == [topic_ids["overdose-prevention"]]
    hidden = await push(client, {"hide": ["cms-1"], "delete": [2, "unknown"]})
    assert await hidden.json() == {"items": [], "deleted": ["2"], "hidden": ["cms-1"]}
    assert await pool.fetchval("SELECT count(*) FROM items WHERE NOT hidden") == 0

    assert (await push(client, item, secret="wrong-secret-000000")).status == 401
    for bad, field_name in (
        ({"id": "x"}, "items[0].title"),
        ({"items": [{"title": "no id"}]}, "items[0].id"),
        ({"items": "nope"}, "items"),
        ({"id": "x", "title": "t", "topics": ["no-such-topic"]}, "topics"),
        ({"id": "x", "title": "t", "url": 5}, "items[0].url"),
        ({"hello": "world"}, "items"),
    ):
        response = await push(client, bad)
        assert response.status == 400, bad
        assert field_name in (await response.json())["error"]["fields"], bad


async def test_editors_list_edit_and_hide_items(
    client: TestClient[web.Request, web.Application], pool: asyncpg.Pool, topic_ids: dict[str, int]
) -> None:
    await push(client, {"items": [
        {"id": f"p{i}", "title": f"Story {i}", "topics": ["tobacco-control"] if i % 2 else [],
         "published": f"2026-11-{10 + i}T08:00:00Z"} for i in range(5)]})  # fmt: skip
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "editor", "admin")
    headers = {"Authorization": f"Bearer {key}"}
    page = await (await client.get("/api/v1/items?limit=2", headers=headers)).json()
    assert [i["title"] for i in page["items"]] == ["Story 4", "Story 3"]
    rest = await (
        await client.get(f"/api/v1/items?limit=2&cursor={page['next_cursor']}", headers=headers)
    ).json()
    assert [i["title"] for i in rest["items"]] == ["Story 2", "Story 1"]
    tobacco = await (
        await client.get("/api/v1/items?topic=tobacco-control", headers=headers)
    ).json()
    assert [i["title"] for i in tobacco["items"]] == ["Story 3", "Story 1"]
    searched = await (await client.get("/api/v1/items?q=story%204", headers=headers)).json()
    assert len(searched["items"]) == 1
    assert (await client.get("/api/v1/items?topic=nope", headers=headers)).status == 400
    assert (await client.get("/api/v1/items?since=yesterday", headers=headers)).status == 400

    item_id = searched["items"][0]["item_id"]
    edited = await client.patch(
        f"/api/v1/items/{item_id}",
        json={
            "title": "Story four, edited",
            "summary_html": "<p onclick=x>Better</p>",
            "topics": ["environmental-health"],
        },
        headers=headers,
    )
    assert edited.status == 200
    row = await pool.fetchrow(
        "SELECT title, summary_html, topic_ids, edited_at FROM items WHERE item_id = $1", item_id
    )
    assert row is not None
    assert (row["title"], row["summary_html"]) == ("Story four, edited", "<p>Better</p>")
    assert row["topic_ids"] == [topic_ids["environmental-health"]]
    # Upstream sends the story again: the editor's title stays.
    await push(
        client, {"id": "p4", "title": "Story 4 (upstream)", "published": "2026-11-14T08:00:00Z"}
    )
    assert (
        await pool.fetchval("SELECT title FROM items WHERE item_id = $1", item_id)
        == "Story four, edited"
    )
    hide = await client.patch(f"/api/v1/items/{item_id}", json={"hidden": True}, headers=headers)
    assert hide.status == 200
    visible = await (await client.get("/api/v1/items", headers=headers)).json()
    assert item_id not in [i["item_id"] for i in visible["items"]]
    assert (
        await client.patch("/api/v1/items/999999", json={"hidden": True}, headers=headers)
    ).status == 404
    assert (
        await client.patch(f"/api/v1/items/{item_id}", json={"title": 3}, headers=headers)
    ).status == 400


async def test_feeds_cli(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    from tests.support.process import mailer_env, run_mailer

    await create_topic(pool, name="Tobacco Control")
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_FEED_ALLOW_PRIVATE="true")
    url = feed_server.url("/f/rss2.xml")
    added = await asyncio.to_thread(
        run_mailer, ["feeds", "add", url, "--map", "Tobacco=tobacco-control"], env
    )
    assert added.returncode == 0, added.stderr
    polled = await asyncio.to_thread(run_mailer, ["feeds", "poll"], env)
    assert "3 new, 0 updated, 0 unchanged" in polled.stdout, polled.stderr
    listed = await asyncio.to_thread(run_mailer, ["feeds", "list"], env)
    assert url in listed.stdout
    assert "3 items" in listed.stdout
    paused = await asyncio.to_thread(run_mailer, ["feeds", "pause", "2"], env)
    assert paused.returncode == 0, paused.stderr
    bad = await asyncio.to_thread(run_mailer, ["feeds", "add", url + "x", "--map", "nope"], env)
    assert bad.returncode == 1
    assert "CATEGORY=TOPIC" in bad.stderr


async def test_feeds_cli_updates_a_source_as_the_api_does(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    from tests.support.process import mailer_env, run_mailer

    await create_topic(pool, name="Tobacco Control")
    await create_topic(pool, name="Road Safety")
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_FEED_ALLOW_PRIVATE="true")
    old, new = feed_server.url("/f/rss2.xml"), feed_server.url("/f/atom.xml")
    added = await asyncio.to_thread(
        run_mailer, ["feeds", "add", old, "--map", "Tobacco=tobacco-control"], env
    )
    assert added.returncode == 0, added.stderr
    source_id = await pool.fetchval("SELECT source_id FROM feed_sources WHERE url = $1", old)

    moved = await asyncio.to_thread(
        run_mailer,
        ["feeds", "update", str(source_id), "--url", new, "--name", "Moved",
         "--topic", "road-safety", "--interval", "600"],
        env,
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    assert f"feed {source_id} updated: {new}" in moved.stdout
    row = await pool.fetchrow("SELECT * FROM feed_sources WHERE source_id = $1", source_id)
    assert row is not None
    assert (row["url"], row["name"], row["poll_interval"]) == (new, "Moved", 600)
    assert row["default_topics"] == ["road-safety"]
    assert row["category_rules"] != {}  # not given: kept
    cleared = await asyncio.to_thread(
        run_mailer, ["feeds", "update", str(source_id), "--no-map", "--no-topics"], env
    )
    assert cleared.returncode == 0, cleared.stderr
    row = await pool.fetchrow("SELECT * FROM feed_sources WHERE source_id = $1", source_id)
    assert row is not None
    assert (row["default_topics"], row["category_rules"], row["url"]) == ([], {}, new)

    for argv, said in (
        (["feeds", "update", str(source_id)], "nothing to change"),
        (["feeds", "update", str(source_id), "--topic", "nope"], "nope"),
        (["feeds", "update", "99999", "--name", "x"], "99999"),
        (["feeds", "update", str(source_id), "--url", "ftp://x"], "http"),
    ):
        refused = await asyncio.to_thread(run_mailer, argv, env)
        assert refused.returncode == 1, (argv, refused.stdout)
        assert said in refused.stderr, (argv, refused.stderr)


async def test_an_unchanged_body_is_not_parsed_again_until_the_rules_change(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    feed_server: FeedServer,
    topic_ids: dict[str, int],
) -> None:
    source = await feeds.create_source(pool, url=feed_server.url("/f/rss2.xml"))
    (first,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    (same,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert (first.created, same.created, same.unchanged, same.updated) == (3, 0, 3, 0)
    await feeds.update_source(
        pool, source["source_id"], category_rules={"Tobacco": ["tobacco-control"]}
    )
    (after,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert after.updated == 1  # the smoke-free story now carries its topic


async def test_a_feed_that_moved_keeps_its_items(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    feed_server: FeedServer,
    topic_ids: dict[str, int],
) -> None:
    """A new address is polled afresh (no old validators or body hash), and the same guids
    there update the source's items instead of adding them again."""
    source = await feeds.create_source(pool, url=feed_server.url("/f/rss2.xml"))
    (first,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert first.created == 3
    moved = await feeds.update_source(
        pool, source["source_id"], url=" " + feed_server.url("/f/rss2.xml?moved=1") + " "
    )
    assert moved["url"] == feed_server.url("/f/rss2.xml?moved=1")
    assert (moved["etag"], moved["body_hash"], moved["last_status"]) == (None, None, None)
    (after,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert (after.status, after.created, after.unchanged + after.updated) == (200, 0, 3)
    assert await pool.fetchval("SELECT count(*) FROM items") == 3

    other = await feeds.create_source(pool, url=feed_server.url("/f/atom.xml"))
    with pytest.raises(Conflict):
        await feeds.update_source(pool, other["source_id"], url=moved["url"])
    with pytest.raises(InvalidInput) as refused:
        await feeds.update_source(pool, other["source_id"], url="file:///etc/passwd")
    assert "url" in refused.value.fields


async def test_a_feed_s_password_is_not_written_to_the_log(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    feed_server: FeedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A CMS feed behind basic auth: its failures are logged with the password masked."""
    url = feed_server.url("/nothing-here").replace("http://", "http://cms:feedpassw0rd@", 1)
    with caplog.at_level(logging.WARNING, logger="mailer.content.feeds"):
        result = await poll(pool, session, url)
    assert result.error is not None and "HTTP 404" in result.error
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "HTTP 404" in logged
    assert "cms:***@" in logged
    assert "feedpassw0rd" not in logged


async def test_an_item_with_only_a_title_is_updated_not_stored_again(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    feed_server: FeedServer,
    topic_ids: dict[str, int],
) -> None:
    feed = '<rss version="2.0"><channel><title>Notices</title>{}</channel></rss>'
    notice = "<item><title>Clinic hours change</title><description>{}</description></item>"
    feed_server.mutable = feed.format(notice.format("Open 9 to 5.")).encode()
    source = await feeds.create_source(pool, url=feed_server.url("/mutable"))
    (first,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    feed_server.mutable = feed.format(
        notice.format("Open 9 to 6.") + "<item><title>Flu clinic</title></item>"
    ).encode()
    (second,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    assert (first.created, second.created, second.updated) == (1, 1, 1)
    rows = await pool.fetch("SELECT title, summary_text FROM items ORDER BY item_id")
    assert [tuple(r) for r in rows] == [
        ("Clinic hours change", "Open 9 to 6."),
        ("Flu clinic", ""),
    ]
