"""Console subscribers: search by address fragment (keyset pages), the whole record of one
person, and the admins' data requests (export, erase, unsubscribe on request)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from mailer.addresses import address_hash
from mailer.audience import preferences, topics
from mailer.audience.consent import Context, record_consent
from mailer.audience.lookup import like_pattern
from mailer.editorial import series
from tests.support.console import XSS
from tests.support.console_admin import admin_client, editor_client, field_error, field_value, post
from tests.support.factories import add_subscribers, digest_mailing
from tests.support.helpers import ClientFactory

WORDING = f"Yes, send me the newsletter. {XSS}"


def listed(page: str) -> list[int]:
    """The subscriber ids a result page links to, in order."""
    return [int(n) for n in re.findall(r'<a href="/console/subscribers/(\d+)">', page)]


def next_link(page: str) -> str | None:
    found = re.search(r'href="(/console/subscribers\?[^"]*before=[^"]*)">Next page', page)
    return found.group(1).replace("&amp;", "&") if found else None


async def add_person(
    pool: asyncpg.Pool, email: str, *, status: str = "active", name: str | None = None
) -> int:
    subscriber_id: int = await pool.fetchval(
        "INSERT INTO subscribers (email, email_key, name, status, confirmed_at) "
        "VALUES ($1, lower($1), $2, $3, now()) RETURNING subscriber_id",
        email,
        name,
        status,
    )
    return subscriber_id


def test_a_fragment_matches_itself_only() -> None:
    assert like_pattern("Ann_Lee") == "%ann\\_lee%"
    assert like_pattern("100%") == "%100\\%%"
    assert like_pattern("a\\b") == "%a\\\\b%"


async def test_search_by_fragment_status_and_topic_in_keyset_pages(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    readers = await add_subscribers(pool, 120)
    ann = await add_person(pool, "Ann_Lee@Example.org")
    annx = await add_person(pool, "annXlee@example.org", status="unsubscribed")
    vaccines = await topics.create_topic(pool, name="Vaccines")
    await pool.execute(
        "INSERT INTO subscriber_topics SELECT unnest($1::bigint[]), $2",
        readers[:7],
        vaccines.topic_id,
    )
    client, _ = await admin_client(pool, aiohttp_client, tmp_path)

    # Case-insensitive, anywhere in the address; wildcards in the fragment are literal.
    page = await (await client.get("/console/subscribers", params={"q": "READER11"})).text()
    assert sorted(listed(page)) == sorted(readers[11:12] + readers[110:120])
    page = await (await client.get("/console/subscribers", params={"q": "n_l"})).text()
    assert listed(page) == [ann]
    page = await (await client.get("/console/subscribers", params={"q": "lee@"})).text()
    assert listed(page) == [annx, ann]  # newest first

    # Filters combine.
    params = {"status": "unsubscribed"}
    assert listed(await (await client.get("/console/subscribers", params=params)).text()) == [annx]
    params = {"topic": "vaccines", "q": "reader"}
    page = await (await client.get("/console/subscribers", params=params)).text()
    assert listed(page) == sorted(readers[:7], reverse=True)

    # Every subscriber exactly once across the pages, newest first, 50 a page.
    seen: list[int] = []
    url: str | None = "/console/subscribers"
    pages = 0
    while url:
        page = await (await client.get(url)).text()
        seen += listed(page)
        url = next_link(page)
        pages += 1
        if url:
            assert "First page" in await (await client.get(url)).text()
    assert pages == 3
    assert seen == sorted([*readers, ann, annx], reverse=True)


async def test_bad_search_input_is_named_beside_its_field(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_subscribers(pool, 3)
    client, _ = await admin_client(pool, aiohttp_client, tmp_path)
    for params, field, message in (
        ({"status": "erased"}, "status", "Choose a status from the list."),
        ({"topic": "no-such-topic"}, "topic", "Choose a topic from the list."),
        ({"q": "x" * 321}, "q", "The address is at most 320 characters (this is 321)."),
        ({"before": "12abc"}, None, "Use the page links as given."),
    ):
        response = await client.get("/console/subscribers", params=params)
        page = await response.text()
        assert response.status == 400, params
        if field:
            assert field_error(page, field) == message
        else:
            assert message in page
        assert listed(page) == []


async def _record(pool: asyncpg.Pool) -> dict[str, int]:
    """A subscriber with a full history: topics (one hidden), a series, a pause, consent
    entries (one from an earlier, purged signup), mail sent and failed, a hard bounce."""
    overdose = await topics.create_topic(pool, name="Overdose Prevention")
    internal = await topics.create_topic(pool, name="Staff only", public=False)
    weekly = await series.create_series(
        pool, name="Weekly news", cron="0 9 * * tue", timezone="UTC", now=datetime.now(UTC)
    )
    email = "zoe@example.org"
    async with pool.acquire() as conn:  # the earlier signup, purged: unlinked, same address
        await record_consent(conn, subscriber_id=None, email=email, action="signup",
                             context=Context(source="old form"), topics=["overdose-prevention"],
                             consent_text="An older wording.")  # fmt: skip
    subscriber_id = await add_person(pool, email, name=f"Zoe {XSS}")
    await pool.execute(
        "UPDATE subscribers SET paused_until = now() + interval '30 days', source = 'homepage' "
        "WHERE subscriber_id = $1",
        subscriber_id,
    )
    await pool.execute(
        "INSERT INTO subscriber_topics VALUES ($1, $2), ($1, $3)",
        subscriber_id,
        overdose.topic_id,
        internal.topic_id,
    )
    await pool.execute("INSERT INTO subscriber_series VALUES ($1, $2)", subscriber_id,
                       weekly["series_id"])  # fmt: skip
    async with pool.acquire() as conn:
        for action, wording, detail in (
            ("signup", WORDING, None),
            ("confirm", None, None),
            ("preferences", None, {"changes": ["Paused until 1 January 2027"]}),
        ):
            await record_consent(
                conn, subscriber_id=subscriber_id, email=email, action=action,
                context=Context(ip="203.0.113.7", user_agent="Firefox/140", source="homepage"),
                topics=["overdose-prevention"], consent_text=wording, detail=detail,
            )  # fmt: skip
    mailing_id = await digest_mailing(pool)
    await pool.execute(
        "INSERT INTO deliveries (subscriber_id, kind, recipient, status, attempts, last_reply, "
        "sent_at, finished_at, mailing_id) VALUES "
        "($1, 'confirm', $2, 'sent', 1, '250 2.0.0 Ok: queued as 4F1', now(), now(), NULL), "
        "($1, 'digest', $2, 'failed', 2, '550 5.1.1 <zoe@example.org>: user unknown', NULL, "
        " now(), $3)",
        subscriber_id,
        email,
        mailing_id,
    )
    failed = await pool.fetchval("SELECT delivery_id FROM deliveries WHERE status = 'failed'")
    await pool.execute(
        "INSERT INTO bounces (delivery_id, subscriber_id, kind, source, detail) "
        "VALUES ($1, $2, 'hard', 'smtp', '550 5.1.1 user unknown')",
        failed,
        subscriber_id,
    )
    await pool.execute(
        "INSERT INTO suppressions (email_hash, reason, detail) "
        "VALUES ($1, 'hard_bounce', '550 5.1.1')",
        address_hash(email),
    )
    return {"subscriber_id": subscriber_id, "mailing_id": mailing_id}


async def test_a_subscribers_page_shows_the_whole_record_escaped(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    ids = await _record(pool)
    client, _ = await editor_client(pool, aiohttp_client, tmp_path)
    response = await client.get(f"/console/subscribers/{ids['subscriber_id']}")
    page = await response.text()
    assert response.status == 200
    # Profile, topics (hidden ones marked), series, pause, source.
    assert "Zoe &lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "Overdose Prevention" in page
    assert re.search(r"Staff only <span class=\"badge\">hidden</span>", page)
    assert "Weekly news" in page
    assert "· from homepage" in page
    assert "<dt>Alerts</dt><dd>no alerts</dd>" in page
    # The consent ledger: newest first, the wording by its hash, the earlier signup.
    actions = re.findall(r"<td>(signup|confirm|preferences)", page)
    assert actions == ["preferences", "confirm", "signup", "signup"]
    assert hashlib.sha256(WORDING.encode()).hexdigest() in page
    assert "Yes, send me the newsletter. &lt;script&gt;" in page
    assert "An older wording." in page
    assert "earlier signup" in page
    assert "Paused until 1 January 2027" in page
    assert "IP 203.0.113.7" in page
    # Mail: the digest's subject, the status and the last SMTP reply; the bounce.
    assert f'<a href="/console/digests/{ids["mailing_id"]}">Weekly public health news</a>' in page
    assert "550 5.1.1 &lt;zoe@example.org&gt;: user unknown" in page
    assert "250 2.0.0 Ok: queued as 4F1" in page
    assert '<span class="status status-failed">failed</span>' in page
    assert "2 attempts" in page
    assert "550 5.1.1 user unknown" in page
    assert "hard bounce since" in page


async def test_an_unknown_subscriber_is_404(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    for path in ("/console/subscribers/999", "/console/subscribers/999/erase",
                 "/console/subscribers/999/export"):  # fmt: skip
        assert (await client.get(path)).status == 404, path
    assert (await post(client, "/console/subscribers/999/unsubscribe", csrf)).status == 404
    assert (await client.get("/console/subscribers/abc")).status == 400


async def test_export_gives_the_same_file_as_the_persons_own_download(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    ids = await _record(pool)
    client, _ = await admin_client(pool, aiohttp_client, tmp_path)
    response = await client.get(f"/console/subscribers/{ids['subscriber_id']}/export")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="subscriber-{ids["subscriber_id"]}-data.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(await response.text())
    expected = await preferences.export_data(pool, ids["subscriber_id"])
    data.pop("exported_at"), expected.pop("exported_at")
    assert data == json.loads(json.dumps(expected, default=str))
    assert data["profile"]["email"] == "zoe@example.org"
    assert [e["action"] for e in data["consent_ledger"]] == ["signup", "confirm", "preferences"]


async def test_erase_needs_the_address_typed_then_forgets_the_person(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    ids = await _record(pool)
    subscriber_id = ids["subscriber_id"]
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    url = f"/console/subscribers/{subscriber_id}/erase"
    page = await (await client.get(url)).text()
    assert "This cannot be undone." in page
    for typed, message in (
        ("", "The address is required."),
        ("someone@example.org", "This is not the subscriber's address; type zoe@example.org."),
    ):
        response = await post(client, url, csrf, confirm_email=typed)
        page = await response.text()
        assert response.status == 400
        assert field_error(page, "confirm_email") == message
        assert field_value(page, "confirm_email") == typed
        assert await pool.fetchval("SELECT count(*) FROM subscribers") == 1

    response = await post(client, url, csrf, confirm_email="ZOE@example.org")
    assert response.status == 303
    assert response.headers["Location"] == "/console/subscribers?erased=1"
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 0
    suppression = await pool.fetchrow(
        "SELECT reason, detail FROM suppressions WHERE email_hash = $1",
        address_hash("zoe@example.org"),
    )
    assert suppression is not None
    assert suppression["reason"] == "erased"
    assert suppression["detail"] == "erased on request (editor root@example.org (console))"
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE recipient <> ''") == 0
    assert await pool.fetchval("SELECT count(*) FROM consent_events WHERE ip IS NOT NULL") == 0
    assert "data is erased" in await (await client.get(response.headers["Location"])).text()
    assert (await client.get(f"/console/subscribers/{subscriber_id}")).status == 404


async def test_unsubscribe_on_request_is_recorded_as_the_editors(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    subscriber_id = await add_person(pool, "yan@example.org")
    mailing_id = await digest_mailing(pool)
    await pool.execute(
        "INSERT INTO deliveries (subscriber_id, kind, recipient, mailing_id) "
        "VALUES ($1, 'digest', 'yan@example.org', $2)",
        subscriber_id,
        mailing_id,
    )
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    url = f"/console/subscribers/{subscriber_id}"
    assert "Unsubscribe on request" in await (await client.get(url)).text()
    response = await post(client, f"{url}/unsubscribe", csrf)
    assert response.headers["Location"] == f"{url}?done=unsubscribed"
    page = await (await client.get(response.headers["Location"])).text()
    assert "Unsubscribed." in page
    assert "Unsubscribe on request" not in page
    assert await pool.fetchval("SELECT status FROM subscribers") == "unsubscribed"
    assert await pool.fetchval("SELECT status FROM deliveries") == "cancelled"
    entry = await pool.fetchrow("SELECT action, source, ip FROM consent_events")
    assert entry is not None
    assert dict(entry) == {
        "action": "unsubscribe",
        "source": "editor root@example.org (console)",
        "ip": None,
    }
    again = await post(client, f"{url}/unsubscribe", csrf)
    assert again.headers["Location"] == f"{url}?done=unchanged"
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 1


async def test_times_are_shown_in_the_editors_zone(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    subscriber_id = await add_person(pool, "xu@example.org")
    await pool.execute(
        "UPDATE subscribers SET created_at = '2026-11-26 23:30:00+00' WHERE subscriber_id = $1",
        subscriber_id,
    )
    client, _ = await admin_client(pool, aiohttp_client, tmp_path)
    await pool.execute("UPDATE editors SET timezone = 'Asia/Tokyo'")
    page = await (await client.get(f"/console/subscribers/{subscriber_id}")).text()
    assert "Times in Asia/Tokyo." in page
    assert "27 Nov 2026 08:30" in page
    listing = await (await client.get("/console/subscribers")).text()
    assert "27 Nov 2026 08:30" in listing  # 23:30 UTC is 08:30 the next day in Tokyo


async def test_an_admin_changes_topics_and_digests_on_request(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    from multidict import MultiDict

    from tests.support.console import add_editor, console_app, newsroom, signed_in

    data = await newsroom(pool, readers=1)
    await add_editor(pool, role="admin")
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    subscriber = data["subscriber_ids"][0]
    page = await client.get(f"/console/subscribers/{subscriber}/choices")
    assert page.status == 200
    only_vaccines = MultiDict([("csrf_token", csrf), ("topics", data["topics"][1])])
    saved = await client.post(
        f"/console/subscribers/{subscriber}/choices", data=only_vaccines, allow_redirects=False
    )
    assert saved.status == 303
    assert saved.headers["Location"].endswith("?done=choices")
    slugs = await pool.fetch(
        "SELECT slug FROM subscriber_topics JOIN topics USING (topic_id) WHERE subscriber_id = $1",
        subscriber,
    )
    assert [r["slug"] for r in slugs] == [data["topics"][1]]
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM subscriber_series WHERE subscriber_id = $1", subscriber
        )
        == 0
    )  # no digest ticked: none
    ledger = await pool.fetchrow(
        "SELECT action, source FROM consent_events WHERE subscriber_id = $1 "
        "ORDER BY consent_event_id DESC LIMIT 1",
        subscriber,
    )
    assert ledger is not None
    assert ledger["action"] == "preferences"
    assert "ana@example.org" in ledger["source"]
    none = await client.post(
        f"/console/subscribers/{subscriber}/choices", data={"csrf_token": csrf}
    )
    assert none.status == 400
    assert "at least one topic" in await none.text()


async def test_an_admin_exports_the_list(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    from tests.support.console import add_editor, console_app, newsroom, signed_in

    await newsroom(pool, readers=2)
    await add_editor(pool, role="admin")
    client = await aiohttp_client(console_app(pool, tmp_path))
    await signed_in(client)
    page = await (await client.get("/console/subscribers")).text()
    assert 'action="/console/export/subscribers"' in page
    csv_file = await client.get("/console/export/subscribers?format=csv&status=active")
    assert csv_file.status == 200
    assert csv_file.headers["Content-Disposition"].startswith('attachment; filename="subscribers-')
    body = await csv_file.text()
    assert "reader0@example.org" in body and "reader1@example.org" in body
    lines = await (await client.get("/console/export/subscribers?format=jsonl")).text()
    assert len([line for line in lines.splitlines() if line.strip()]) == 2
    bad = await client.get("/console/export/subscribers?format=xml")
    assert bad.status == 400


async def test_an_admin_imports_a_file_dry_run_then_for_real_with_rejects(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    import asyncio

    from aiohttp import FormData

    from tests.support.console import add_editor, console_app, signed_in, visible_text

    await topics.create_topic(pool, name="Vaccines")
    await add_editor(pool, role="admin")
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    assert (await client.get("/console/imports")).status == 200
    csv = b"email,name,topics\nnew1@example.org,New One,vaccines\nnot-an-address,Bad,vaccines\n"

    def form(dry_run: bool) -> FormData:
        data = FormData()
        data.add_field("csrf_token", csrf)
        data.add_field("mode", "consented")
        data.add_field("consent_text", "Yes, send me the newsletter.")
        data.add_field("source", "old list")
        if dry_run:
            data.add_field("dry_run", "true")
        data.add_field("file", csv, filename="list.csv", content_type="text/csv")
        return data

    async def run(dry_run: bool) -> str:
        started = await client.post("/console/imports", data=form(dry_run), allow_redirects=False)
        assert started.status == 303, await started.text()
        where = started.headers["Location"]
        for _ in range(50):
            page = await (await client.get(where)).text()
            if "status-running" not in page:
                return where
            await asyncio.sleep(0.2)
        raise AssertionError("the import did not finish")

    dry = await run(True)
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 0  # a dry run
    text = visible_text(await (await client.get(dry)).text())
    assert "dry run" in text
    real = await run(False)
    assert await pool.fetchval("SELECT email FROM subscribers") == "new1@example.org"
    rejects = await client.get(real + "/rejects")
    assert rejects.status == 200
    assert "not-an-address" in await rejects.text()
    no_file = await client.post("/console/imports", data={"csrf_token": csrf, "mode": "consented"})
    assert no_file.status == 400
    assert "Choose the file" in await no_file.text()
