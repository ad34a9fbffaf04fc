"""A NUL character in any text a request carries is a 400 naming the field, on every route,
never a 500 with a database error in the log (issue 19, item 1)."""

import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.accounts.api_keys import create_api_key
from mailer.audience.topics import create_topic
from mailer.resources import templates_dir
from mailer.web.openapi import document
from tests.support.console import add_editor, console_app, signed_in
from tests.support.helpers import ClientFactory

Client = TestClient[web.Request, web.Application]
NUL = "\x00"
_FIELD = re.compile(r'name="([A-Za-z_][A-Za-z0-9_-]*)"')
_PART = re.compile(r"\{([^}]+)\}")


def page_fields() -> list[str]:
    """Every form field name the pages (public and console) have."""
    names: set[str] = set()
    for template in templates_dir().glob("**/*.html"):
        names.update(_FIELD.findall(template.read_text()))
    return sorted(names | {"q", "email", "name", "List-Unsubscribe"})


def api_fields() -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """(method, path) -> (query parameters, body fields) as the API description documents."""
    spec = document("https://news.example.org")
    found: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            body = list(schema.get("properties", {}))
            found[(method.upper(), "/api/v1" + path)] = (query, body)
    return found


def routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, sub-applications included."""
    seen: list[tuple[str, str]] = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("formatter") or info.get("path") or info.get("prefix")
        if template is None or route.method in ("HEAD", "*"):
            continue
        if "directory" in info:  # static files: a file name, no text stored
            template = f"{info['prefix']}/{{filename}}"
        seen.append((route.method, str(template)))
    return sorted(set(seen))


def fill(template: str, poisoned: str | None = None) -> str:
    """The path with every {part} filled in (with NUL for `poisoned`)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return quote(f"x{NUL}y" if name == poisoned else "1", safe="")

    return _PART.sub(value, template)


def assert_refused(status: int, body: str, field: str, what: str) -> None:
    assert status == 400, f"{what}: {status} {body[:300]}"
    assert field in body, f"{what}: the answer does not name {field!r}: {body[:300]}"


async def test_every_field_of_every_route_refuses_nul(
    pool: asyncpg.Pool,
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = console_app(pool, tmp_path)
    client = await aiohttp_client(app)
    documented = api_fields()
    fields = page_fields()
    walked = routes(app)
    assert len(walked) > 120  # the whole URL table, the API's sub-application included
    assert any(path.startswith("/console/") for _, path in walked)
    assert ("POST", "/api/v1/topics") in walked
    checked = 0
    for method, template in walked:
        what = f"{method} {template}"
        for part in (m.group(1).split(":")[0] for m in _PART.finditer(template)):
            response = await client.request(method, fill(template, part))
            assert_refused(response.status, await response.text(), part, f"{what} path {part}")
            checked += 1
        api = template.startswith("/api/")
        query, body = documented.get((method, template), ([], []))
        query_names = query if api else fields
        for name in [*query_names, "q"]:
            url = f"{fill(template)}?{quote(name)}=a%00b"
            response = await client.request(method, url)
            assert_refused(response.status, await response.text(), name, f"{what} ?{name}")
            checked += 1
        if method not in ("POST", "PATCH", "PUT", "DELETE"):
            continue
        url = fill(template)
        json_names = body if api else fields
        for name in [*json_names, "email"]:
            response = await client.request(method, url, json={name: f"a{NUL}b", "ok": "fine"})
            assert_refused(response.status, await response.text(), name, f"{what} JSON {name}")
            checked += 1
        nested = await client.request(method, url, json={"topics": ["fine", f"a{NUL}"]})
        assert_refused(nested.status, await nested.text(), "topics[1]", f"{what} JSON list")
        for name in fields:
            response = await client.request(method, url, data={name: f"a{NUL}b"})
            assert_refused(response.status, await response.text(), name, f"{what} form {name}")
            checked += 1
        if api:  # the API reads JSON; its one multipart route is tested on its own below
            continue
        multipart = await client.request(
            method,
            url,
            data=b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\na\x00b\r\n--b--\r\n',
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert multipart.status == 400, f"{what} multipart: {multipart.status}"
    assert checked > 2000
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
async def signed_in_client(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory
) -> tuple[Client, str]:
    await create_topic(pool, name="Overdose Prevention")
    await add_editor(pool, role="admin")
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "Ana Admin", role="admin")
    client = await aiohttp_client(console_app(pool, tmp_path))
    await signed_in(client)
    return client, key


CASES: list[tuple[str, str, Any, str]] = [
    ("POST", "/api/v1/topics", {"name": "Harm\x00Reduction"}, "name"),
    ("POST", "/api/v1/topics", {"name": "Harm Reduction", "description": "a\x00"}, "description"),
    ("PATCH", "/api/v1/topics/overdose-prevention", {"name": "x\x00"}, "name"),
    ("GET", "/api/v1/subscribers?q=a%00b", None, "q"),
    ("GET", "/api/v1/items?q=%00", None, "q"),
    ("GET", "/api/v1/subscribers/data?email=ana%00@example.org", None, "email"),
    ("POST", "/api/v1/suppressions", {"email": "ana\x00@example.org"}, "email"),
    ("POST", "/api/v1/suppressions", {"email": "a@example.org", "reason": "x\x00"}, "reason"),
    ("POST", "/api/v1/series", {"name": "Weekly\x00", "cron": "0 9 * * tue"}, "name"),
    ("POST", "/api/v1/feeds", {"url": "https://news.example.org/\x00feed"}, "url"),
    ("GET", "/console/subscribers?q=%00", None, "q"),
    ("GET", "/console/items?q=a%00", None, "q"),
]


@pytest.mark.parametrize(("method", "url", "body", "field"), CASES)
async def test_the_reported_fields_are_refused_and_nothing_is_stored(
    signed_in_client: tuple[Client, str],
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
    method: str,
    url: str,
    body: Any,
    field: str,
) -> None:
    client, key = signed_in_client
    headers = {"Authorization": f"Bearer {key}"} if url.startswith("/api/") else {}
    before = await pool.fetchval(
        "SELECT (SELECT count(*) FROM topics) + (SELECT count(*) FROM suppressions)"
        " + (SELECT count(*) FROM series) + (SELECT count(*) FROM feed_sources)"
    )
    response = await client.request(method, url, json=body, headers=headers)
    text = await response.text()
    assert response.status == 400, text
    if url.startswith("/api/"):
        assert field in json.loads(text)["error"]["fields"]
    else:
        assert field in text
    after = await pool.fetchval(
        "SELECT (SELECT count(*) FROM topics) + (SELECT count(*) FROM suppressions)"
        " + (SELECT count(*) FROM series) + (SELECT count(*) FROM feed_sources)"
    )
    assert after == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_text_without_nul_still_reaches_the_handlers(
    signed_in_client: tuple[Client, str], pool: asyncpg.Pool
) -> None:
    client, key = signed_in_client
    headers = {"Authorization": f"Bearer {key}"}
    created = await client.post(
        "/api/v1/topics",
        json={"name": "Harm Reduction", "description": "\\u0000 as text"},
        headers=headers,
    )
    assert created.status == 201, await created.text()
    assert (await created.json())["description"] == "\\u0000 as text"
    search = await client.get("/api/v1/subscribers?q=%2500", headers=headers)  # "%00" as text
    assert search.status == 200, await search.text()
    page = await client.get("/console/subscribers?q=ana")
    assert page.status == 200


async def test_a_nul_in_an_import_form_field_is_refused(
    signed_in_client: tuple[Client, str], pool: asyncpg.Pool
) -> None:
    client, key = signed_in_client
    body = (
        b'--b\r\nContent-Disposition: form-data; name="source"\r\n\r\nlist\x00 2019\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        b"email\r\nana@example.org\r\n--b--\r\n"
    )
    response = await client.post(
        "/api/v1/subscribers/import?mode=consented",
        data=body,
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "multipart/form-data; boundary=b",
        },
    )
    assert response.status == 400, await response.text()
    assert "source" in (await response.json())["error"]["fields"]
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 0
