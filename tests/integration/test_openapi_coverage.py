"""The OpenAPI document describes every route of /api/v1 with its methods."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from aiohttp import web

from mailer.web.app import create_app
from mailer.web.openapi import PATHS
from tests.support.factories import engine_settings


async def test_every_api_route_is_described(pool: asyncpg.Pool, tmp_path: Path) -> None:
    app = create_app(engine_settings(tmp_path), pool)
    (v1,) = [
        r._app
        for r in app.router.resources()
        if isinstance(r, web.PrefixedSubAppResource) and r.canonical == "/api/v1"
    ]
    missing = []
    for route in v1.router.routes():
        if route.method == "HEAD":
            continue
        path = (route.resource.canonical if route.resource else "").removeprefix("/api/v1")
        if route.method.lower() not in PATHS.get(path, {}):
            missing.append(f"{route.method} {path}")
    assert missing == []
    assert "/alerts/{alert_id}/send" in PATHS and "/items/{item_id}/audit" in PATHS
