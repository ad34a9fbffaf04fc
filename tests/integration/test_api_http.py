"""HTTP details schemathesis found or the issue named: a 405 says what is allowed, a NUL in
the input is a 400 (PostgreSQL cannot store it), a multipart body without a boundary is a
400, an id that is not a positive integer is a 400."""

import asyncpg

from mailer.accounts.api_keys import create_api_key
from mailer.config import load_settings
from mailer.web.app import create_app
from tests.support.helpers import ClientFactory


async def test_api_answers_bad_requests_precisely(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory
) -> None:
    client = await aiohttp_client(create_app(load_settings({}, dotenv=False), pool))
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "checks", "admin")
    auth = {"Authorization": f"Bearer {key}"}

    put = await client.put("/api/v1/topics", headers=auth)
    assert put.status == 405
    assert set(put.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert (await put.json())["error"]["status"] == 405

    nul = await client.get("/api/v1/corrections", params={"status": "a\x00b"}, headers=auth)
    assert nul.status == 400, await nul.text()

    form = await client.post(
        "/api/v1/subscribers/import?mode=opt_in",
        data=b"x",
        headers={**auth, "Content-Type": "multipart/form-data"},
    )
    assert form.status == 400, await form.text()

    for bad in ("abc", "0x1", "-1", "1.5", "9" * 30):
        answer = await client.get(f"/api/v1/digests/{bad}", headers=auth)
        assert answer.status == 400, (bad, answer.status)
