"""The editor API's delivery controls and the matching CLI commands."""

from pathlib import Path

import asyncpg

from mailer.accounts.api_keys import create_api_key, revoke_api_key
from mailer.config import load_settings
from mailer.web.app import create_app
from tests.support import mailings as support_mailings
from tests.support.factories import add_subscribers, digest_mailing
from tests.support.helpers import ClientFactory
from tests.support.process import mailer_env, run_mailer


async def make_key(pool: asyncpg.Pool, name: str = "test") -> tuple[int, str]:
    async with pool.acquire() as conn:
        return await create_api_key(conn, name, "admin")


async def test_api_requires_a_valid_key(pool: asyncpg.Pool, aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(create_app(load_settings({}, dotenv=False), pool))
    missing = await client.get("/api/v1/mailings/1/progress")
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await missing.json())["error"]["status"] == 401
    wrong = await client.get(
        "/api/v1/mailings/1/progress", headers={"Authorization": "Bearer mk_not-a-real-key"}
    )
    assert wrong.status == 401
    key_id, key = await make_key(pool)
    await revoke_api_key(pool, key_id)
    revoked = await client.get(
        "/api/v1/mailings/1/progress", headers={"Authorization": f"Bearer {key}"}
    )
    assert revoked.status == 401
    stored = await pool.fetchval("SELECT key_hash FROM api_keys WHERE api_key_id = $1", key_id)
    assert key.encode() not in stored


async def test_progress_pause_resume_cancel(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory
) -> None:
    await add_subscribers(pool, 5)
    mailing_id = await digest_mailing(pool)
    _, key = await make_key(pool)
    headers = {"Authorization": f"Bearer {key}"}
    client = await aiohttp_client(create_app(load_settings({}, dotenv=False), pool))
    base = f"/api/v1/mailings/{mailing_id}"

    not_yet = await client.post(f"{base}/pause", headers=headers)
    assert not_yet.status == 409
    assert "it is draft" in (await not_yet.json())["error"]["message"]

    await support_mailings.start_sending(pool, mailing_id)
    progress = await (await client.get(f"{base}/progress", headers=headers)).json()
    assert progress["status"] == "sending"
    assert progress["total"] == 5
    assert progress["counts"]["queued"] == 5
    assert progress["done"] == 0

    paused = await client.post(f"{base}/pause", headers=headers)
    assert (await paused.json())["status"] == "paused"
    resumed = await client.post(f"{base}/resume", headers=headers)
    assert (await resumed.json())["status"] == "sending"
    cancelled = await (await client.post(f"{base}/cancel", headers=headers)).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["counts"]["cancelled"] == 5
    assert cancelled["eta_seconds"] == 0

    assert (await client.get("/api/v1/mailings/999999/progress", headers=headers)).status == 404
    bad = await client.get("/api/v1/mailings/abc/progress", headers=headers)
    assert bad.status == 400
    assert "mailing_id" in (await bad.json())["error"]["fields"]


async def test_metrics_endpoint(pool: asyncpg.Pool, aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(create_app(load_settings({}, dotenv=False), pool))
    response = await client.get("/metrics")
    assert response.status == 200
    assert "mailer_queue_depth" in await response.text()


async def test_cli_api_keys_and_mailing_commands(
    pool: asyncpg.Pool, db_url: str, tmp_path: Path
) -> None:
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url)
    created = run_mailer(["api-keys", "create", "cms"], env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("mk_")
    listed = run_mailer(["api-keys", "list"], env)
    assert "cms" in listed.stdout
    assert key not in listed.stdout

    await add_subscribers(pool, 3)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    paused = run_mailer(["mailings", "pause", str(mailing_id)], env)
    assert paused.returncode == 0, paused.stderr
    assert "paused" in paused.stdout
    cancelled = run_mailer(["mailings", "cancel", str(mailing_id)], env)
    assert "cancelled 3" in cancelled.stdout
    watched = run_mailer(["mailings", "watch", str(mailing_id)], env, timeout=30)
    assert watched.returncode == 0
    assert "100.0% 3/3 cancelled" in watched.stdout

    missing = run_mailer(["mailings", "pause", "424242"], env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "mailer: mailing 424242 does not exist"
