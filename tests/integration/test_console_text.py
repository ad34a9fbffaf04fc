"""What a reader of the console sees: no Python reprs, method objects or None in any list
page's text (the Items column once read `<built-in method items of …Record…>`)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.support.console import (
    add_editor,
    assert_no_raw_values,
    console_app,
    newsroom,
    signed_in,
    visible_text,
)
from tests.support.helpers import ClientFactory

LIST_PAGES = (
    "/console/",
    "/console/items",
    "/console/digests",
    "/console/subscribers",
    "/console/feeds",
    "/console/topics",
    "/console/series",
    "/console/api-keys",
    "/console/editors",
    "/console/suppressions",
    "/console/bounce-reports",
    "/console/alerts",
    "/console/corrections",
    "/console/webhooks",
    "/console/templates",
    "/console/templates/digest",
    "/console/templates/alert",
    "/console/templates/correction",
    "/console/templates/confirm",
    "/console/templates/welcome",
)


async def test_list_pages_show_values_not_reprs(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    data = await newsroom(pool)
    await add_editor(pool, role="admin")
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    created = await client.post(
        "/console/digests",
        data={"csrf_token": csrf, "series_id": str(data["series_id"])},
        allow_redirects=False,
    )
    assert created.status == 303
    for path in LIST_PAGES:
        page = await client.get(path)
        html = await page.text()
        assert page.status == 200, path
        assert_no_raw_values(html)
    digests = visible_text(await (await client.get("/console/digests")).text())
    assert f"draft {len(data['item_ids'])}" in digests  # the Items column counts them
    one = await client.get(f"/console/subscribers/{data['subscriber_ids'][0]}")
    assert one.status == 200
    assert_no_raw_values(await one.text())
    removal = await client.get(f"/console/topics/{data['topics'][0]}/remove")
    assert removal.status == 200
    assert_no_raw_values(await removal.text())
