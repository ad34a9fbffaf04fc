"""Liveness and readiness probes for orchestrators and load balancers."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from mailer.db import DB_ERRORS
from mailer.errors import MigrationError
from mailer.migrate import pending_migrations
from mailer.web import keys


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and its event loop answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready to serve: the database answers and every migration is applied."""
    pool = request.app[keys.pool_key]
    try:
        async with pool.acquire(timeout=5) as conn:
            pending = await pending_migrations(conn, request.app[keys.migrations_dir_key])
    except DB_ERRORS:
        return web.json_response(
            {"status": "unavailable", "reason": "database unreachable"}, status=503
        )
    except MigrationError as exc:
        return web.json_response({"status": "unavailable", "reason": str(exc)}, status=503)
    if pending:
        return web.json_response(
            {"status": "unavailable", "reason": "migrations pending", "pending": pending},
            status=503,
        )
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition: this process's counters, and the database-wide gauges read now."""
    registry = request.app[keys.metrics_key]
    await registry.refresh(request.app[keys.pool_key])
    return web.Response(body=registry.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
