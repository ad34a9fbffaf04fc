"""Helpers for console tests: an app with the console, editors, signing in through the form."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer import editors
from mailer.app import create_app
from tests.factories import engine_settings

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')

Client = TestClient[web.Request, web.Application]


def console_app(pool: asyncpg.Pool, tmp_path: Path, **changes: Any) -> web.Application:
    """The whole web app, reached over plain http (so cookies need not be Secure)."""
    settings = engine_settings(tmp_path, **{"base_url": "http://127.0.0.1:8080", **changes})
    return create_app(settings, pool)


async def add_editor(
    pool: asyncpg.Pool, email: str = "ana@example.org", role: str = "editor", name: str = "Ana"
) -> int:
    editor_id, _ = await editors.create_editor(
        pool, email=email, name=name, role=role, password=PASSWORD
    )
    return editor_id


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html[:2000]
    return found.group(1)


async def sign_in(
    client: Client, email: str = "ana@example.org", password: str = PASSWORD
) -> tuple[int, str]:
    """(status, page text) of posting the sign-in form as a browser would."""
    form = await client.get("/console/sign-in")
    token = csrf_of(await form.text())
    response = await client.post(
        "/console/sign-in",
        data={"csrf_token": token, "email": email, "password": password, "next": "/console/"},
        allow_redirects=False,
    )
    return response.status, await response.text()


async def signed_in(client: Client, email: str = "ana@example.org") -> str:
    """Sign in and return the session's CSRF token (from the dashboard)."""
    status, _ = await sign_in(client, email)
    assert status == 303
    page = await client.get("/console/")
    assert page.status == 200
    return csrf_of(await page.text())
