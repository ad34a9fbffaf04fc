"""Suppressions and bounce reports in the console: list, add, lift; raw report with its
decision. Hostile text stays text."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.support.console import (
    XSS,
    add_editor,
    assert_no_raw_values,
    console_app,
    newsroom,
    signed_in,
    visible_text,
)
from tests.support.helpers import ClientFactory


async def test_suppress_list_and_lift(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await newsroom(pool)
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    empty = await client.get("/console/suppressions")
    assert empty.status == 200
    assert "No suppressed addresses" in await empty.text()

    added = await client.post(
        "/console/suppressions",
        data={"csrf_token": csrf, "email": "reader0@example.org", "detail": XSS},
        allow_redirects=False,
    )
    assert added.status == 303
    assert (
        await pool.fetchval("SELECT status FROM subscribers WHERE email = 'reader0@example.org'")
        == "suppressed"
    )
    page = await client.get("/console/suppressions")
    html = await page.text()
    assert "reader0@example.org" in visible_text(html)
    assert "<script>alert" not in html
    assert_no_raw_values(html)
    twice = await client.post(
        "/console/suppressions", data={"csrf_token": csrf, "email": "reader0@example.org"}
    )
    assert twice.status == 409
    assert "already suppressed" in await twice.text()
    bad = await client.post("/console/suppressions", data={"csrf_token": csrf, "email": "x"})
    assert bad.status == 400
    no_token = await client.post("/console/suppressions", data={"email": "a@example.org"})
    assert no_token.status == 403

    lifted = await client.post(
        "/console/suppressions/lift",
        data={"csrf_token": csrf, "lift_email": "reader0@example.org"},
        allow_redirects=False,
    )
    assert lifted.status == 303
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 0
    assert (
        await pool.fetchval("SELECT status FROM subscribers WHERE email = 'reader0@example.org'")
        == "active"
    )
    unknown = await client.post(
        "/console/suppressions/lift", data={"csrf_token": csrf, "lift_email": "no@example.org"}
    )
    assert unknown.status == 404
    assert "not suppressed" in await unknown.text()


async def test_bounce_reports_raw_and_decision(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    await signed_in(client)
    report_id = await pool.fetchval(
        "INSERT INTO bounce_reports (source, kind, status, summary, problem, raw) "
        "VALUES ('smtp', 'dsn', 'unparseable', $1, 'no status field', $2) RETURNING report_id",
        "550 " + XSS,
        b"Subject: failure\r\n\r\n<b>raw</b> \xff body",
    )
    listing = await client.get("/console/bounce-reports?status=unparseable")
    html = await listing.text()
    assert listing.status == 200
    assert f'href="/console/bounce-reports/{report_id}"' in html
    assert "<script>alert" not in html
    assert_no_raw_values(html)
    other = await (await client.get("/console/bounce-reports?status=processed")).text()
    assert "No reports with that decision" in other
    one = await client.get(f"/console/bounce-reports/{report_id}")
    text = visible_text(await one.text())
    assert "<b>raw</b>" in text  # the raw message as text
    assert "no status field" in text
    assert (await client.get("/console/bounce-reports/999999")).status == 404
