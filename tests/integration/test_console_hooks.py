"""Outbound webhooks in the console (admins): add with the secret shown once, the delivery
log, send again, pause, remove."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from tests.support.console import (
    add_editor,
    assert_no_raw_values,
    console_app,
    signed_in,
    visible_text,
)
from tests.support.helpers import ClientFactory

NONCE = re.compile(r'name="form_nonce" value="([^"]*)"')


async def test_endpoints_deliveries_and_resend(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool, role="admin")
    await add_editor(pool, email="ed@example.org", name="Ed")
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    page = await client.get("/console/webhooks")
    assert page.status == 200
    nonce = NONCE.search(await page.text())
    assert nonce
    form = {
        "csrf_token": csrf,
        "form_nonce": nonce.group(1),
        "url": "https://hooks.example.com/in",
        "events": "subscriber.* digest.sent",
    }
    bad = await client.post("/console/webhooks", data={**form, "events": "no such!"})
    assert bad.status == 400
    made = await client.post("/console/webhooks", data=form)
    assert made.status == 201
    secret = re.search(
        r'id="new-secret" type="text" readonly value="(whsec_[^"]+)"', await made.text()
    )
    assert secret
    again = await client.post("/console/webhooks", data=form)  # a reloaded page
    assert "not shown again" in await again.text()
    assert await pool.fetchval("SELECT count(*) FROM hook_endpoints") == 1
    endpoint_id = await pool.fetchval("SELECT endpoint_id FROM hook_endpoints")

    event_id = await pool.fetchval(
        "INSERT INTO events (type, subject, subject_id, payload) "
        "VALUES ('subscriber.confirmed', 'subscriber', 7, '{}') RETURNING event_id"
    )
    delivery_id = await pool.fetchval(
        "INSERT INTO hook_deliveries (endpoint_id, event_id, subject, subject_id, status, "
        "attempts, last_status, deadline_at) VALUES ($1, $2, 'subscriber', 7, 'failed', 5, 500, "
        "now() - interval '1 hour') RETURNING hook_delivery_id",
        endpoint_id,
        event_id,
    )
    shown = await client.get(f"/console/webhooks/{endpoint_id}")
    html = await shown.text()
    assert "subscriber.confirmed" in visible_text(html)
    assert "HTTP 500" in visible_text(html)
    assert_no_raw_values(html)
    resent = await client.post(
        f"/console/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend",
        data={"csrf_token": csrf},
    )
    assert resent.status == 200
    assert "1 delivery queued again" in await resent.text()
    assert (
        await pool.fetchval(
            "SELECT status FROM hook_deliveries WHERE hook_delivery_id = $1", delivery_id
        )
        == "pending"
    )
    await client.post(
        f"/console/webhooks/{endpoint_id}/active", data={"csrf_token": csrf, "active": "no"}
    )
    assert await pool.fetchval("SELECT active FROM hook_endpoints") is False
    listing = await client.get("/console/webhooks")
    assert_no_raw_values(await listing.text())
    await client.post(f"/console/webhooks/{endpoint_id}/remove", data={"csrf_token": csrf})
    assert await pool.fetchval("SELECT count(*) FROM hook_endpoints") == 0

    # Editors do not manage webhooks.
    await client.post("/console/sign-out", data={"csrf_token": csrf})
    await signed_in(client, "ed@example.org")
    assert (await client.get("/console/webhooks")).status == 403
