"""The send controls: a send whose mails are all over reads "finishing" with nothing to pause
or cancel; a cancelled draft can be restored (no dead end after a mistaken cancel)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.support.console import add_editor, console_app, newsroom, signed_in, visible_text
from tests.support.helpers import ClientFactory


async def _draft(pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path) -> tuple:
    data = await newsroom(pool)
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    created = await client.post(
        "/console/digests",
        data={"csrf_token": csrf, "series_id": str(data["series_id"])},
        allow_redirects=False,
    )
    assert created.status == 303
    return client, csrf, int(created.headers["Location"].split("/")[-1].split("?")[0])


async def test_all_mails_over_reads_finishing_without_pause_or_cancel(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf, mailing_id = await _draft(pool, aiohttp_client, tmp_path)
    await client.post(f"/console/digests/{mailing_id}/send-now", data={"csrf_token": csrf})
    live = await (await client.get(f"/console/mailings/{mailing_id}")).text()
    assert 'data-show-when="sending">' in live  # Pause shown while mails wait
    # Every mail handed over, but the tick that marks the mailing sent has not run.
    await pool.execute(
        "UPDATE deliveries SET status = 'sent', finished_at = now() WHERE mailing_id = $1",
        mailing_id,
    )
    assert (
        await pool.fetchval("SELECT status FROM mailings WHERE mailing_id = $1", mailing_id)
        == "sending"
    )
    html = await (await client.get(f"/console/mailings/{mailing_id}")).text()
    text = visible_text(html)
    assert "finishing" in text
    assert "Every mail is handed over" in text
    assert 'data-show-when="sending" hidden' in html
    assert 'data-show-when="sending paused" hidden' in html
    assert 'data-zone="UTC"' in html  # the live note's clock uses the editor's zone


async def test_cancelled_draft_can_be_restored(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf, mailing_id = await _draft(pool, aiohttp_client, tmp_path)
    composer = await (await client.get(f"/console/digests/{mailing_id}")).text()
    send_at = composer.index("Send now")
    cancel_at = composer.index(">Cancel digest<")
    assert "Drop this digest" in composer[send_at:cancel_at]  # not side by side
    cancelled = await client.post(
        f"/console/digests/{mailing_id}/cancel", data={"csrf_token": csrf}
    )
    page = await cancelled.text()
    assert "Restore as a draft" in page
    restored = await client.post(
        f"/console/digests/{mailing_id}/restore", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert restored.status == 303
    row = await pool.fetchrow(
        "SELECT status, finished_at FROM mailings WHERE mailing_id = $1", mailing_id
    )
    assert row is not None
    assert row["status"] == "draft"
    assert row["finished_at"] is None
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM events WHERE type = 'digest.restored' AND subject_id = $1",
            mailing_id,
        )
        == 1
    )
    again = await client.post(f"/console/digests/{mailing_id}/restore", data={"csrf_token": csrf})
    assert again.status == 409  # a draft has nothing to restore


async def test_a_started_send_cannot_be_restored(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf, mailing_id = await _draft(pool, aiohttp_client, tmp_path)
    await client.post(f"/console/digests/{mailing_id}/send-now", data={"csrf_token": csrf})
    await client.post(f"/console/mailings/{mailing_id}/cancel", data={"csrf_token": csrf})
    page = await (await client.get(f"/console/digests/{mailing_id}")).text()
    assert "Restore as a draft" not in page
    refused = await client.post(f"/console/digests/{mailing_id}/restore", data={"csrf_token": csrf})
    assert refused.status == 409
    assert (
        await pool.fetchval("SELECT status FROM mailings WHERE mailing_id = $1", mailing_id)
        == "cancelled"
    )
