"""API keys have a role like console accounts: an editor's key is refused (403) what admins
alone may do, an admin's key may do it; the role is set and shown by the CLI and console."""

import re
from pathlib import Path

import asyncpg
import pytest
from aiohttp.web_urldispatcher import PrefixedSubAppResource

from mailer.accounts.api_keys import create_api_key
from mailer.config import load_settings
from mailer.errors import InvalidInput
from mailer.web.api import ADMIN_ONLY
from mailer.web.app import create_app
from tests.support.console_admin import admin_client, post
from tests.support.factories import add_subscribers
from tests.support.helpers import ClientFactory
from tests.support.process import mailer_env, run_mailer


async def key(pool: asyncpg.Pool, role: str) -> dict[str, str]:
    async with pool.acquire() as conn:
        _, made = await create_api_key(conn, f"{role} key", role)
    return {"Authorization": f"Bearer {made}"}


async def test_an_editor_key_cannot_erase_but_an_admin_key_can(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory
) -> None:
    client = await aiohttp_client(create_app(load_settings({}, dotenv=False), pool))
    await add_subscribers(pool, 1)
    email = await pool.fetchval("SELECT email FROM subscribers")
    editor, admin = await key(pool, "editor"), await key(pool, "admin")

    refused = await client.post("/api/v1/subscribers/erase", json={"email": email}, headers=editor)
    assert refused.status == 403
    assert (await refused.json())["error"]["message"].startswith("this needs an admin's API key")
    assert await pool.fetchval("SELECT count(*) FROM subscribers WHERE email = $1", email) == 1
    data = await client.get("/api/v1/subscribers/data", params={"email": email}, headers=editor)
    assert data.status == 403
    topic = await client.post("/api/v1/topics", json={"name": "Harm Reduction"}, headers=editor)
    assert topic.status == 403
    assert await pool.fetchval("SELECT count(*) FROM topics") == 0

    # What editors do stays open to their keys.
    assert (await client.get("/api/v1/topics", headers=editor)).status == 200
    assert (await client.get("/api/v1/items", headers=editor)).status == 200
    assert (await client.get("/api/v1/subscribers", headers=editor)).status == 200

    erased = await client.post("/api/v1/subscribers/erase", json={"email": email}, headers=admin)
    assert erased.status == 200
    assert await pool.fetchval("SELECT count(*) FROM subscribers WHERE email = $1", email) == 0


async def test_every_admin_only_route_refuses_an_editor_key(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory
) -> None:
    """Walks the route table: each admin-only handler answers an editor's key 403 before it
    reads anything, whatever the ids; the list is the one the docs give."""
    app = create_app(load_settings({}, dotenv=False), pool)
    client = await aiohttp_client(app)
    editor = await key(pool, "editor")
    checked = set()
    handlers = set()
    for resource in app.router.resources():
        if not isinstance(resource, PrefixedSubAppResource):
            continue
        sub = resource._app
        for inner in sub.router.routes():
            if inner.handler not in ADMIN_ONLY:
                continue
            info = inner.resource.get_info() if inner.resource else {}
            path = info.get("path") or info["formatter"]
            path = re.sub(r"\{[^}]+\}", "1", path)
            answer = await client.request(inner.method, path, headers=editor)
            assert answer.status == 403, (inner.method, path, answer.status)
            checked.add((inner.method, path))
            handlers.add(inner.handler)
    assert ("POST", "/api/v1/subscribers/erase") in checked
    assert ("GET", "/api/v1/subscribers/export") in checked
    assert ("POST", "/api/v1/hooks") in checked
    assert ("POST", "/api/v1/suppressions/lift") in checked
    assert handlers == ADMIN_ONLY and len(handlers) == 26


async def test_a_new_key_is_an_editor_unless_asked(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        key_id, _ = await create_api_key(conn, "cms")
        with pytest.raises(InvalidInput):
            await create_api_key(conn, "cms", "owner")
    assert await pool.fetchval("SELECT role FROM api_keys WHERE api_key_id = $1", key_id) == (
        "editor"
    )
    # A row written without a role (as before the column existed) is an editor's too.
    await pool.execute("INSERT INTO api_keys (name, key_hash) VALUES ('raw', '\\x00')")
    assert await pool.fetchval("SELECT role FROM api_keys WHERE name = 'raw'") == "editor"


async def test_cli_sets_and_lists_the_role(pool: asyncpg.Pool, db_url: str, tmp_path: Path) -> None:
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url)
    made = run_mailer(["api-keys", "create", "cms"], env)
    assert made.returncode == 0, made.stderr
    assert "(cms, editor)" in made.stdout
    admin = run_mailer(["api-keys", "create", "privacy", "--role", "admin"], env)
    assert "(privacy, admin)" in admin.stdout
    wrong = run_mailer(["api-keys", "create", "x", "--role", "owner"], env)
    assert wrong.returncode == 2
    listed = run_mailer(["api-keys", "list"], env).stdout.splitlines()
    assert re.search(r"\bcms\s+editor\b", listed[0])
    assert re.search(r"\bprivacy\s+admin\b", listed[1])


async def test_console_sets_and_shows_the_role(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    made = await post(client, "/console/api-keys", csrf, name="CMS", role="editor")
    assert made.status == 201
    assert "role editor" in await made.text()
    made = await post(client, "/console/api-keys", csrf, name="Privacy", role="admin")
    assert "role admin" in await made.text()
    wrong = await post(client, "/console/api-keys", csrf, name="Odd", role="owner")
    assert wrong.status == 400
    rows = await pool.fetch("SELECT name, role FROM api_keys ORDER BY api_key_id")
    assert [tuple(r) for r in rows] == [("CMS", "editor"), ("Privacy", "admin")]
    listing = await (await client.get("/console/api-keys")).text()
    assert re.search(r"<td>CMS</td>\s*<td>editor</td>", listing)
    assert re.search(r"<td>Privacy</td>\s*<td>admin</td>", listing)
    assert '<option value="editor" selected>' in listing  # new keys default to editor
