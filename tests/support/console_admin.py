"""Helpers for the console's admin page tests: signed-in clients, posting forms, reading
field errors, and a local server for the fixture feeds."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestServer

from tests.support.console import Client, add_editor, console_app, signed_in
from tests.support.helpers import ClientFactory

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"
ADMIN = "root@example.org"
EDITOR = "ana@example.org"


async def admin_client(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path, **settings: Any
) -> tuple[Client, str]:
    """A client signed in as a new admin (Root), and its CSRF token."""
    await add_editor(pool, ADMIN, role="admin", name="Root")
    client = await aiohttp_client(console_app(pool, tmp_path, **settings))
    return client, await signed_in(client, ADMIN)


async def editor_client(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> tuple[Client, str]:
    await add_editor(pool, EDITOR, role="editor", name="Ana")
    client = await aiohttp_client(console_app(pool, tmp_path))
    return client, await signed_in(client, EDITOR)


async def post(client: Client, path: str, csrf: str, **fields: str | list[str]) -> ClientResponse:
    """Post a form as the browser would (repeated fields for lists); redirects not followed."""
    data: list[tuple[str, str]] = [("csrf_token", csrf)]
    for name, value in fields.items():
        data += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
    return await client.post(path, data=data, allow_redirects=False)


def field_error(page: str, name: str) -> str | None:
    """The message shown beside a field (unescaped), or None."""
    found = re.search(rf'<span class="field-error" id="f-{name}-error">(.*?)</span>', page, re.S)
    return html.unescape(found.group(1)) if found else None


def field_value(page: str, name: str) -> str | None:
    """The value a text field was rendered with (unescaped)."""
    found = re.search(rf'<input id="f-{name}" name="{name}"[^>]*? value="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else None


@asynccontextmanager
async def feed_server() -> AsyncIterator[TestServer]:
    """Serves tests/fixtures/feeds/<name> on loopback; /fail answers 500."""

    async def fixture(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name == "fail":
            return web.Response(status=500, text="down for maintenance")
        path = FEEDS / name
        if not path.is_file():
            raise web.HTTPNotFound()
        kind = "application/feed+json" if name.endswith(".json") else "application/rss+xml"
        return web.Response(body=path.read_bytes(), content_type=kind)

    app = web.Application()
    app.router.add_get("/{name}", fixture)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()
