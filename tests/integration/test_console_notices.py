"""Alerts and corrections in the console: draft, the count shown, confirm it, send; a
correction from an item to exactly its receivers."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from mailer.delivery import mailings
from tests.support.console import (
    add_editor,
    assert_no_raw_values,
    console_app,
    newsroom,
    signed_in,
    visible_text,
)
from tests.support.helpers import ClientFactory


async def test_alert_draft_confirm_count_and_send(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    data = await newsroom(pool, readers=1)
    await pool.execute("UPDATE subscribers SET accepts_alerts = true")
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    item = data["item_ids"][0]
    item_page = await (await client.get(f"/console/items/{item}")).text()
    assert f'href="/console/alerts?item={item}"' in item_page

    bad = await client.post("/console/alerts", data={"csrf_token": csrf, "item_id": "abc"})
    assert bad.status == 400
    unknown = await client.post("/console/alerts", data={"csrf_token": csrf, "item_id": "999999"})
    assert unknown.status in (404, 409, 400)
    drafted = await client.post(
        "/console/alerts", data={"csrf_token": csrf, "item_id": str(item)}, allow_redirects=False
    )
    assert drafted.status == 303, await drafted.text()
    alert_id = int(drafted.headers["Location"].rsplit("/", 1)[1])
    page = await (await client.get(f"/console/alerts/{alert_id}")).text()
    text = visible_text(page)
    assert "goes to 1 person" in text  # not "1 people"
    assert "Send to 1 person" in text
    assert "Naloxone" in text  # the preview

    wrong = await client.post(
        f"/console/alerts/{alert_id}/send", data={"csrf_token": csrf, "confirm": "7"}
    )
    assert wrong.status == 409
    assert "goes to 1 person, not 7" in await wrong.text()
    assert (
        await pool.fetchval("SELECT count(*) FROM deliveries WHERE mailing_id = $1", alert_id) == 0
    )
    sent = await client.post(
        f"/console/alerts/{alert_id}/send",
        data={"csrf_token": csrf, "confirm": "1"},
        allow_redirects=False,
    )
    assert sent.status == 303
    assert sent.headers["Location"] == f"/console/mailings/{alert_id}"
    assert (
        await pool.fetchval("SELECT count(*) FROM deliveries WHERE mailing_id = $1", alert_id) == 1
    )
    listing = await client.get("/console/alerts")
    assert listing.status == 200
    assert_no_raw_values(await listing.text())


async def test_correction_from_an_item_to_its_receivers(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    data = await newsroom(pool, readers=2)
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    item = data["item_ids"][1]
    never_sent = await client.post(
        f"/console/items/{item}/correct", data={"csrf_token": csrf, "note": "x"}
    )
    assert never_sent.status in (400, 409)
    assert "never sent" in await never_sent.text()
    # The item goes out in a digest to both readers.
    created = await client.post(
        "/console/digests",
        data={"csrf_token": csrf, "series_id": str(data["series_id"])},
        allow_redirects=False,
    )
    digest_id = int(created.headers["Location"].split("/")[-1].split("?")[0])
    await client.post(f"/console/digests/{digest_id}/send-now", data={"csrf_token": csrf})
    await pool.execute(
        "UPDATE deliveries SET status = 'sent', sent_at = now() - interval '1 minute', "
        "finished_at = now() WHERE mailing_id = $1",
        digest_id,
    )
    assert await mailings.finish_completed(pool) == [digest_id]
    form = await client.get(f"/console/items/{item}/correct")
    assert form.status == 200
    empty = await client.post(f"/console/items/{item}/correct", data={"csrf_token": csrf})
    assert empty.status == 400
    made = await client.post(
        f"/console/items/{item}/correct",
        data={
            "csrf_token": csrf,
            "note": "The figure was 12, not 21.",
            "title": "Measles cases fall by 12",
        },
        allow_redirects=False,
    )
    assert made.status == 303, await made.text()
    correction_id = int(made.headers["Location"].rsplit("/", 1)[1])
    page = visible_text(await (await client.get(made.headers["Location"])).text())
    assert "The figure was 12, not 21." in page
    assert "goes to 2 people" in page
    sent = await client.post(
        f"/console/corrections/{correction_id}/send",
        data={"csrf_token": csrf, "confirm": "2"},
        allow_redirects=False,
    )
    assert sent.status == 303, await sent.text()
    notice = await pool.fetchval(
        "SELECT mailing_id FROM corrections WHERE correction_id = $1", correction_id
    )
    receivers = await pool.fetch(
        "SELECT recipient FROM deliveries WHERE mailing_id = $1 ORDER BY recipient", notice
    )
    assert [r["recipient"] for r in receivers] == ["reader0@example.org", "reader1@example.org"]
    listing = await client.get(f"/console/corrections?item={item}")
    html = await listing.text()
    assert "Measles cases fall by 12" in visible_text(html)
    assert_no_raw_values(html)
