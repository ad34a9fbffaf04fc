import logging
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from mailer.config import Env, load_settings
from mailer.resources import migrations_dir
from mailer.web.app import create_app
from tests.support.helpers import ClientFactory


async def test_healthz_and_readyz(pool: asyncpg.Pool, aiohttp_client: ClientFactory) -> None:
    client: TestClient = await aiohttp_client(create_app(load_settings({}, dotenv=False), pool))
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["status"] == "ready"


async def test_readyz_is_503_while_migrations_are_pending(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in migrations_dir().glob("*.sql"):
        (folder / path.name).write_text(path.read_text())
    (folder / "9999_future.sql").write_text("SELECT 1;")
    app = create_app(load_settings({}, dotenv=False), pool, migrations=folder)
    client = await aiohttp_client(app)
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["pending"] == ["9999_future"]


async def test_readyz_is_503_when_the_database_is_gone(
    db_url: str, aiohttp_client: ClientFactory
) -> None:
    from mailer.db import open_pool

    pool = await open_pool(db_url)
    await pool.close()  # a closed pool behaves like a database that went away
    client = await aiohttp_client(create_app(load_settings({}, dotenv=False), pool))
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["reason"] == "database unreachable"


async def test_unknown_pages_get_a_page_not_a_traceback(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory
) -> None:
    client = await aiohttp_client(create_app(load_settings({}, dotenv=False), pool))
    page = await client.get("/no/such/page")
    assert page.status == 404
    text = await page.text()
    assert "Not found" in text
    assert "Traceback" not in text
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    api = await client.get("/webhooks/nothing")
    assert api.status == 404
    assert (await api.json())["error"]["status"] == 404
    unauthenticated = await client.get("/api/v1/nothing")
    assert unauthenticated.status == 401  # no hint of what exists without a key


async def test_production_has_no_outbox(pool: asyncpg.Pool, aiohttp_client: ClientFactory) -> None:
    settings = replace(load_settings({}, dotenv=False), env=Env.PRODUCTION)
    client = await aiohttp_client(create_app(settings, pool))
    assert (await client.get("/dev/outbox")).status == 404


async def test_a_database_outage_is_a_503_with_retry_after_not_an_error_page(
    db_url: str, aiohttp_client: ClientFactory
) -> None:
    import json

    from mailer.db import open_pool
    from mailer.signatures import sign

    secret = "whsec_outage_outage"
    pool = await open_pool(db_url)
    await pool.close()  # a closed pool behaves like a database that went away
    settings = load_settings({"MAILER_WEBHOOK_SECRETS": secret}, dotenv=False)
    client = await aiohttp_client(create_app(settings, pool))
    body = json.dumps({"email": "reader@example.org", "consent_text": "Yes"}).encode()
    signup = await client.post(
        "/webhooks/signup",
        data=body,
        headers={"Content-Type": "application/json", "Mailer-Signature": sign(secret, body)},
    )
    assert signup.status == 503  # the website's back end should retry, not give up
    assert signup.headers["Retry-After"] == "30"
    assert "try again" in (await signup.json())["error"]["message"]
    page = await client.get("/subscribe")
    assert page.status == 503
    assert "try again in a minute" in await page.text()


async def test_a_personal_link_s_token_is_not_written_to_the_log(
    db_url: str, aiohttp_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The outage's log line names the page, not the signed token that opens it."""
    from mailer.db import open_pool
    from mailer.tokens import Purpose, Signer

    settings = load_settings({}, dotenv=False)
    settings = replace(settings, secret_key="t" * 40)
    signer = Signer(settings.secret_key)
    token = signer.subscriber_token(Purpose.PREFERENCES, 42, 1)
    unsubscribe = signer.subscriber_token(Purpose.UNSUBSCRIBE, 42, 1)
    pool = await open_pool(db_url)
    await pool.close()  # a closed pool behaves like a database that went away
    client = await aiohttp_client(create_app(settings, pool))
    with caplog.at_level(logging.WARNING):
        page = await client.get(f"/preferences/{token}")
        posted = await client.post(f"/unsubscribe/{unsubscribe}")
    assert (page.status, posted.status) == (503, 503)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /preferences/{token}" in logged
    assert "POST /unsubscribe/{token}" in logged
    assert token not in logged
    assert unsubscribe not in logged


async def test_numbers_that_only_look_like_numbers_are_a_4xx(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory
) -> None:
    """ "²" passes str.isdigit() and int() refuses it; each of these was a 500."""
    from mailer.signatures import sign
    from tests.support.newsroom import editor_headers

    secret = "whsec_numbers_numbers"
    settings = load_settings({"MAILER_WEBHOOK_SECRETS": secret}, dotenv=False)
    client: TestClient = await aiohttp_client(create_app(settings, pool))
    headers = await editor_headers(pool)
    for method, path in (
        ("GET", "/api/v1/mailings/²/progress"),
        ("DELETE", "/api/v1/feeds/²"),
        ("GET", "/api/v1/digests/²"),
        ("GET", "/api/v1/subscribers?limit=²"),
        ("GET", "/api/v1/bounces?limit=²"),
        ("GET", "/api/v1/corrections?item=²"),
        ("GET", "/api/v1/items?cursor=²-1"),
    ):
        response = await client.request(method, path, headers=headers)
        assert response.status == 400, (path, response.status)
    body = b'{"email": "reader@example.org"}'
    forged = sign(secret, body).replace("t=", "t=²", 1)
    signup = await client.post(
        "/webhooks/signup",
        data=body,
        headers={"Content-Type": "application/json", "Mailer-Signature": forged},
    )
    assert signup.status == 401
