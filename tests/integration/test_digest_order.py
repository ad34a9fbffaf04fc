"""The order an editor sets is the order readers see: exactly as ordered, or under topic
headings placed where each topic's first item stands."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from multidict import MultiDict

from tests.support.console import Client, add_editor, console_app, newsroom, signed_in, visible_text
from tests.support.helpers import ClientFactory

TITLES = {
    0: "Naloxone in every pharmacy",  # overdose prevention
    1: "Measles cases fall",  # vaccines
    3: "Flu shots for all ages",  # vaccines
}


async def _save(
    client: Client, csrf: str, mailing_id: int, order: list[int], grouping: str
) -> None:
    form = MultiDict(
        [("csrf_token", csrf), ("subject", "This week"), ("intro_md", ""), ("op", "save"),
         ("grouping", grouping)] + [("items", str(i)) for i in order]
    )  # fmt: skip
    saved = await client.post(f"/console/digests/{mailing_id}", data=form, allow_redirects=False)
    assert saved.status == 303, await saved.text()


async def _seen(client: Client, mailing_id: int) -> str:
    frame = await client.get(
        f"/console/digests/{mailing_id}/preview.html?subscriber=reader0@example.org"
    )
    assert frame.status == 200
    return visible_text(await frame.text())


def _positions(text: str, *needles: str) -> list[int]:
    return [text.index(n) for n in needles]


async def test_readers_see_the_editors_order(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    data = await newsroom(pool)
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    created = await client.post(
        "/console/digests",
        data={"csrf_token": csrf, "series_id": str(data["series_id"])},
        allow_redirects=False,
    )
    mailing_id = int(created.headers["Location"].split("/")[-1].split("?")[0])
    ids = data["item_ids"]
    flu, naloxone, measles = ids[3], ids[0], ids[1]

    # As ordered: a vaccines story first, then overdose, then vaccines again; no headings.
    await _save(client, csrf, mailing_id, [flu, naloxone, measles], "order")
    text = await _seen(client, mailing_id)
    a, b, c = _positions(text, TITLES[3], TITLES[0], TITLES[1])
    assert a < b < c
    assert "Vaccines" not in text and "Overdose Prevention" not in text  # no headings
    assert (
        await pool.fetchval("SELECT item_grouping FROM mailings WHERE mailing_id = $1", mailing_id)
        == "order"
    )

    # By topic: the vaccines section comes first because its first item does; within it
    # the editor's order (flu before measles), then overdose prevention.
    await _save(client, csrf, mailing_id, [flu, naloxone, measles], "topic")
    text = await _seen(client, mailing_id)
    vaccines, overdose = _positions(text, "Vaccines", "Overdose Prevention")
    assert vaccines < overdose
    a, b, c = _positions(text, TITLES[3], TITLES[1], TITLES[0])
    assert a < b < c
    # Moving overdose's item to the top moves its whole section up: the reorder shows.
    await _save(client, csrf, mailing_id, [naloxone, flu, measles], "topic")
    text = await _seen(client, mailing_id)
    vaccines, overdose = _positions(text, "Vaccines", "Overdose Prevention")
    assert overdose < vaccines

    bad = MultiDict([("csrf_token", csrf), ("subject", "x"), ("grouping", "random")])
    refused = await client.post(f"/console/digests/{mailing_id}", data=bad)
    assert refused.status == 400


async def test_the_api_sets_the_grouping_too(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    from mailer.accounts.api_keys import create_api_key

    data = await newsroom(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "CMS")
    h = {"Authorization": f"Bearer {key}"}
    made = await client.post("/api/v1/digests", json={"series_id": data["series_id"]}, headers=h)
    assert made.status == 201, await made.text()
    mailing_id = (await made.json())["mailing_id"]
    changed = await client.patch(
        f"/api/v1/digests/{mailing_id}", json={"grouping": "order"}, headers=h
    )
    assert changed.status == 200, await changed.text()
    assert (await changed.json())["item_grouping"] == "order"
    bad = await client.patch(f"/api/v1/digests/{mailing_id}", json={"grouping": "x"}, headers=h)
    assert bad.status == 400
