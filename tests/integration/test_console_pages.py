"""Console pages through the real app and database: items, the composer, the sending view,
the dashboard. (The browser test drives the same pages in Chromium.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from multidict import MultiDict

from mailer.delivery import mailings
from mailer.editorial import digests
from tests.support.console import XSS, Client, add_editor, console_app, newsroom, signed_in
from tests.support.helpers import ClientFactory


async def test_items_filter_hide_edit_and_escape(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    data = await newsroom(pool)
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)

    page = await client.get("/console/items")
    html = await page.text()
    assert page.status == 200
    assert "Naloxone in every pharmacy" in html
    assert "<script>alert" not in html  # the hostile title is shown as text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html
    only = await (await client.get(f"/console/items?topic={data['topics'][1]}")).text()
    assert "Measles cases fall" in only
    assert "Naloxone in every pharmacy" not in only

    first = data["item_ids"][0]
    hidden = await client.post(
        f"/console/items/{first}/hide",
        data={"csrf_token": csrf, "back": "/console/items?q=Nal"},
        allow_redirects=False,
    )
    assert hidden.status == 303
    assert hidden.headers["Location"] == "/console/items?q=Nal"
    assert await pool.fetchval("SELECT hidden FROM items WHERE item_id = $1", first)
    assert "Naloxone" not in await (await client.get("/console/items")).text()
    assert "Naloxone" in await (await client.get("/console/items?hidden=1")).text()
    evil_back = await client.post(
        f"/console/items/{first}/unhide",
        data={"csrf_token": csrf, "back": "https://evil.example/"},
        allow_redirects=False,
    )
    assert evil_back.headers["Location"] == "/console/items"
    assert not await pool.fetchval("SELECT hidden FROM items WHERE item_id = $1", first)

    form = MultiDict(
        [("csrf_token", csrf), ("title", "Naloxone: now in every pharmacy"),
         ("summary_html", "<p>Fine</p><script>bad()</script>"), ("topics", data["topics"][0]),
         ("topics", data["topics"][1])]
    )  # fmt: skip
    saved = await client.post(f"/console/items/{first}", data=form, allow_redirects=False)
    assert saved.status == 303
    row = await pool.fetchrow("SELECT * FROM items WHERE item_id = $1", first)
    assert row is not None
    assert row["title"] == "Naloxone: now in every pharmacy"
    assert "script" not in row["summary_html"]
    assert len(row["topic_ids"]) == 2
    assert row["edited_at"] is not None
    empty = await client.post(f"/console/items/{first}", data={"csrf_token": csrf, "title": " "})
    assert empty.status == 400
    assert "must not be empty" in await empty.text()
    assert (await client.get("/console/items/999999")).status == 404


async def _draft(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> tuple[dict[str, Any], Client, str, int]:
    """A newsroom, a signed-in editor, and a draft made through the console's form:
    (newsroom ids, client, CSRF token, the draft's id)."""
    data = await newsroom(pool)
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    created = await client.post(
        "/console/digests",
        data={"csrf_token": csrf, "series_id": str(data["series_id"])},
        allow_redirects=False,
    )
    assert created.status == 303, await created.text()
    return data, client, csrf, int(created.headers["Location"].split("/")[-1].split("?")[0])


async def test_compose_reorder_intro_schedule(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    data, client, csrf, mailing_id = await _draft(pool, aiohttp_client, tmp_path)
    order = [
        r["item_id"]
        for r in await pool.fetch(
            "SELECT item_id FROM mailing_items WHERE mailing_id = $1 ORDER BY position", mailing_id
        )
    ]
    assert sorted(order) == sorted(data["item_ids"])  # assembled from the feed
    page = await client.get(f"/console/digests/{mailing_id}")
    html = await page.text()
    assert page.status == 200
    assert "&lt;script&gt;" in html
    assert "<script>alert" not in html

    def form(op: str, items: list[int], intro: str = "") -> MultiDict[str]:
        fields = [("csrf_token", csrf), ("subject", "This week"), ("intro_md", intro), ("op", op)]
        return MultiDict(fields + [("items", str(i)) for i in items])

    moved = await client.post(
        f"/console/digests/{mailing_id}", data=form(f"down:{order[0]}", order, XSS),
        allow_redirects=False,
    )  # fmt: skip
    assert moved.status == 303
    expected = [order[1], order[0], *order[2:]]
    stored = await pool.fetch(
        "SELECT item_id FROM mailing_items WHERE mailing_id = $1 ORDER BY position", mailing_id
    )
    assert [r["item_id"] for r in stored] == expected
    digest = await pool.fetchrow("SELECT subject, intro_md FROM mailings WHERE mailing_id = $1",
                                 mailing_id)  # fmt: skip
    assert digest is not None
    assert digest["subject"] == "This week"
    assert digest["intro_md"] == XSS
    shown = await (await client.get(f"/console/digests/{mailing_id}")).text()
    assert "<img src=x" not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown

    await client.post(f"/console/digests/{mailing_id}", data=form(f"remove:{order[1]}", expected))
    left = await pool.fetchval(
        "SELECT array_agg(item_id ORDER BY position) FROM mailing_items WHERE mailing_id = $1",
        mailing_id,
    )
    assert order[1] not in left
    adding = form("add", left)
    adding.add("add_item", str(order[1]))
    await client.post(f"/console/digests/{mailing_id}", data=adding)
    assert await pool.fetchval(
        "SELECT count(*) FROM mailing_items WHERE mailing_id = $1", mailing_id
    ) == len(order)

    preview = await client.post(
        "/console/digests/intro-preview",
        data={"intro_md": "**Bold** <b>raw</b>"},
        headers={"X-CSRF-Token": csrf},
    )
    assert preview.status == 200
    body = await preview.json()
    assert "<strong>Bold</strong>" in body["html"]
    assert "&lt;b&gt;raw&lt;/b&gt;" in body["html"]
    no_token = await client.post("/console/digests/intro-preview", data={"intro_md": "x"})
    assert no_token.status == 403

    # Schedule at a local time in the chosen zone; the zone is remembered for the editor.
    local = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=2)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )
    scheduled = await client.post(
        f"/console/digests/{mailing_id}/schedule",
        data={"csrf_token": csrf, "send_at": local.strftime("%Y-%m-%dT%H:%M"),
              "timezone": "America/New_York"},
        allow_redirects=False,
    )  # fmt: skip
    assert scheduled.status == 303, await scheduled.text()
    row = await pool.fetchrow("SELECT status, scheduled_at FROM mailings WHERE mailing_id = $1",
                              mailing_id)  # fmt: skip
    assert row is not None
    assert row["status"] == "scheduled"
    assert row["scheduled_at"] == local.astimezone(UTC)
    assert await pool.fetchval("SELECT timezone FROM editors") == "America/New_York"
    text = await (await client.get(f"/console/digests/{mailing_id}")).text()
    assert "09:30" in text
    assert "America/New_York" in text

    for bad, problem in (
        ("2020-01-01T09:00", "is in the past"),
        ("2030-03-10T02:30", "does not exist"),  # New York springs forward at 2:00
        ("tomorrow", "a date and a time"),
    ):
        refused = await client.post(
            f"/console/digests/{mailing_id}/schedule",
            data={"csrf_token": csrf, "send_at": bad, "timezone": "America/New_York"},
        )
        assert refused.status == 400, bad
        assert problem in await refused.text(), bad
    zone = await client.post(
        f"/console/digests/{mailing_id}/schedule",
        data={"csrf_token": csrf, "send_at": "2030-01-01T09:00", "timezone": "Mars/Base"},
    )
    assert zone.status == 400
    assert "unknown time zone" in await zone.text()


async def test_preview_test_send_send_now_and_watch(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    _, client, csrf, mailing_id = await _draft(pool, aiohttp_client, tmp_path)

    preview = await client.get(
        f"/console/digests/{mailing_id}/preview?subscriber=reader0@example.org"
    )
    assert preview.status == 200
    shown = await preview.text()
    assert "Subject:" in shown
    assert "built-in method" not in shown  # the item count, not dict.items
    reader = await pool.fetchval(
        "SELECT subscriber_id FROM subscribers WHERE email = 'reader0@example.org'"
    )
    count = len(await pool.fetchval(digests.Q["items_for_subscriber"], mailing_id, reader))
    assert f" · {count} item" in shown
    huge = await client.get(
        f"/console/digests/{mailing_id}/preview?subscriber=99999999999999999999999"
    )
    assert huge.status == 404  # an id past bigint is nobody, not a 500
    assert "No subscriber" in await huge.text()
    frame = await client.get(
        f"/console/digests/{mailing_id}/preview.html?subscriber=reader0@example.org"
    )
    assert frame.headers["Content-Security-Policy"].startswith("sandbox")
    assert "Hello Reader 0," in await frame.text()
    unknown = await client.get(f"/console/digests/{mailing_id}/preview?subscriber=no@example.org")
    assert unknown.status == 404
    assert "No subscriber" in await unknown.text()

    tested = await client.post(
        f"/console/digests/{mailing_id}/test-send",
        data={"csrf_token": csrf, "addresses": "ana@example.org, bo@example.org"},
        allow_redirects=False,
    )
    assert tested.status == 303
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE mailing_id IS NULL AND kind = 'digest'"
        )
        == 2
    )
    bad = await client.post(
        f"/console/digests/{mailing_id}/test-send", data={"csrf_token": csrf, "addresses": "nope"}
    )
    assert bad.status == 400

    sent = await client.post(
        f"/console/digests/{mailing_id}/send-now", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert sent.headers["Location"] == f"/console/mailings/{mailing_id}"
    page = await client.get(f"/console/mailings/{mailing_id}")
    assert page.status == 200
    assert 'of <span data-field="total">3</span>' in await page.text()
    assert (await client.get(f"/console/digests/{mailing_id}", allow_redirects=False)).status == 303
    # Sending twice: refused, and the editor lands on the live view; nobody gets two.
    again = await client.post(f"/console/digests/{mailing_id}/send-now", data={"csrf_token": csrf})
    assert again.url.path == f"/console/mailings/{mailing_id}"
    assert (
        await pool.fetchval("SELECT count(*) FROM deliveries WHERE mailing_id = $1", mailing_id)
        == 3
    )

    paused = await client.post(f"/console/mailings/{mailing_id}/pause", data={"csrf_token": csrf})
    assert paused.status == 200
    assert "paused" in await paused.text()
    # One event from the stream, then cancel: the stream's last event says so and it ends.
    stream = await client.get(
        f"/console/mailings/{mailing_id}/events", headers={"Accept": "text/event-stream"}
    )
    assert stream.headers["Content-Type"] == "text/event-stream"
    first = await stream.content.readuntil(b"\n\n")
    event = json.loads(first.decode().split("data: ", 1)[1])
    assert event["status"] == "paused"
    assert event["total"] == 3
    await client.post(f"/console/mailings/{mailing_id}/cancel", data={"csrf_token": csrf})
    rest = await stream.content.read()
    last = json.loads(rest.decode().strip().rsplit("data: ", 1)[1])
    assert last["status"] == "cancelled"
    assert last["final"] is True
    assert last["counts"]["cancelled"] == 3


async def test_dashboard_counts_a_finished_send_once(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    data = await newsroom(pool)
    await add_editor(pool)
    app = console_app(pool, tmp_path)
    client = await aiohttp_client(app)
    await signed_in(client)
    empty = await client.get("/console/")
    assert "Nothing sent yet." in await empty.text()

    from tests.support.factories import engine_settings

    settings = engine_settings(tmp_path)
    mailing_id = await digests.create_digest(
        pool, settings, data["series_id"], now=datetime.now(UTC)
    )
    assert mailing_id is not None
    await digests.start(pool, settings, mailing_id)
    # What workers would write: two sent, one failed with a hard bounce.
    ids = [
        r["delivery_id"]
        for r in await pool.fetch(
            "SELECT delivery_id FROM deliveries WHERE mailing_id = $1 ORDER BY 1", mailing_id
        )
    ]
    await pool.execute("UPDATE deliveries SET status = 'sent', sent_at = now() "
                       "WHERE delivery_id = ANY($1)", ids[:2])  # fmt: skip
    await pool.execute("UPDATE deliveries SET status = 'failed' WHERE delivery_id = $1", ids[2])
    await pool.execute(
        "INSERT INTO bounces (delivery_id, kind, source) VALUES ($1, 'hard', 'smtp')", ids[2]
    )
    assert await mailings.finish_completed(pool) == [mailing_id]
    await pool.execute(
        "INSERT INTO consent_events (email_hash, action, topics, subscriber_id) "
        "VALUES ('\\x00', 'confirm', $1, $2)",
        data["topics"],
        data["subscriber_ids"][0],
    )
    page = await client.get("/console/")
    html = await page.text()
    assert page.status == 200
    assert (
        await pool.fetchval("SELECT sent FROM mailing_counts WHERE mailing_id = $1", mailing_id)
        == 2
    )
    row = html.split(f'href="/console/mailings/{mailing_id}"', 1)[1].split("</tr>", 1)[0]
    cells = [c.split("<", 1)[0] for c in row.split('class="num">')[1:]]
    assert cells[:3] == ["2", "1", "1"]  # sent, failed, bounced
    assert "Overdose Prevention: <strong>3</strong>" in html  # today's active readers
    assert "confirmed signup" in html
    assert "reader0@example.org" in html
    # Kept: a second visit does not count again.
    computed = await pool.fetchval("SELECT computed_at FROM mailing_counts")
    await client.get("/console/")
    assert await pool.fetchval("SELECT computed_at FROM mailing_counts") == computed
