"""Outbound webhook endpoints: register, change, remove, read the delivery log, re-send.
(Delivering the events is hook_dispatch.py's.)"""

from __future__ import annotations

import ipaddress
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from mailer.config import Settings
from mailer.db import load_queries, record_json
from mailer.errors import InvalidInput, NotFound
from mailer.fetch import forbidden_address

Q = load_queries("feedback/hooks")
_PATTERN = re.compile(r"^(\*|[a-z_]+\.(\*|[a-z_]+))$")
STATUSES = ("pending", "delivered", "failed")


def check_url(url: str, settings: Settings) -> str:
    """An endpoint URL: http(s) with a host; https only in production; no loopback or
    private address unless MAILER_HOOKS_ALLOW_PRIVATE (names are checked again when
    connecting, so DNS cannot point one there later)."""
    url = url.strip()
    parts = urlsplit(url)
    allowed = ("https",) if settings.is_production else ("http", "https")
    if parts.scheme not in allowed or not parts.hostname or len(url) > 2000:
        raise InvalidInput("invalid endpoint", {"url": f"an {' or '.join(allowed)} URL"})
    if parts.username or parts.password:
        raise InvalidInput("invalid endpoint", {"url": "no credentials in the URL; use the secret"})
    if not settings.hooks.allow_private:
        host = parts.hostname
        try:
            private = forbidden_address(str(ipaddress.ip_address(host)))
        except ValueError:
            private = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
        if private:
            raise InvalidInput(
                "invalid endpoint", {"url": "a loopback or private address is not allowed"}
            )
    return url


def check_event_types(types: list[str]) -> list[str]:
    cleaned = sorted({t.strip() for t in types if t.strip()})
    bad = [t for t in cleaned if not _PATTERN.match(t)]
    if not cleaned or bad:
        raise InvalidInput(
            "invalid event types",
            {
                "events": "one or more of e.g. subscriber.confirmed, digest.*, * "
                + (f"(not {', '.join(bad)})" if bad else "")
            },
        )
    return cleaned


def _check_secret(secret: str) -> str:
    if len(secret) < 16 or len(secret) > 200:
        raise InvalidInput("invalid secret", {"secret": "16 to 200 characters"})
    return secret


async def create_endpoint(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    url: str,
    event_types: list[str],
    secret: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """Register an endpoint; it receives events from now on. The result carries the
    secret (generated if not given) -- the only time it is shown."""
    secret = _check_secret(secret) if secret else "whsec_" + secrets.token_urlsafe(32)
    row = await pool.fetchrow(
        Q["create_endpoint"],
        check_url(url, settings),
        secret,
        check_event_types(event_types),
        description.strip()[:500],
    )
    assert row is not None
    return {**record_json(row), "secret": secret}


async def list_endpoints(
    pool: asyncpg.Pool, endpoint_id: int | None = None
) -> list[dict[str, Any]]:
    rows = await pool.fetch(Q["list_endpoints"], endpoint_id)
    if endpoint_id is not None and not rows:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return [record_json(r) for r in rows]


async def update_endpoint(
    pool: asyncpg.Pool,
    settings: Settings,
    endpoint_id: int,
    *,
    url: str | None = None,
    secret: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    found = await pool.fetchval(
        Q["update_endpoint"],
        endpoint_id,
        check_url(url, settings) if url is not None else None,
        _check_secret(secret) if secret is not None else None,
        check_event_types(event_types) if event_types is not None else None,
        description,
        active,
    )
    if found is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return (await list_endpoints(pool, endpoint_id))[0]


async def delete_endpoint(pool: asyncpg.Pool, endpoint_id: int) -> None:
    """Remove an endpoint and its delivery log."""
    if await pool.fetchval(Q["delete_endpoint"], endpoint_id) is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")


async def list_deliveries(
    pool: asyncpg.Pool,
    endpoint_id: int,
    *,
    status: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The delivery log, newest first: attempts, last HTTP status or error, next attempt."""
    if status is not None and status not in STATUSES:
        raise InvalidInput("invalid status", {"status": f"one of {', '.join(STATUSES)}"})
    await list_endpoints(pool, endpoint_id)  # NotFound for an unknown endpoint
    rows = await pool.fetch(Q["list_deliveries"], endpoint_id, status, before, limit)
    return [record_json(r) for r in rows]


async def resend(
    pool: asyncpg.Pool,
    settings: Settings,
    endpoint_id: int,
    hook_delivery_id: int | None = None,
    *,
    all_failed: bool = False,
) -> list[int]:
    """Send a logged event again (or every failed one of the endpoint), now, with a fresh
    retry window. Returns the delivery ids queued again."""
    window = settings.hooks.max_age_seconds
    async with pool.acquire() as conn, conn.transaction():
        if all_failed:
            rows = await conn.fetch(Q["resend_failed"], endpoint_id, window)
            found = [r["hook_delivery_id"] for r in rows]
        else:
            one = await conn.fetchval(Q["resend_delivery"], hook_delivery_id, endpoint_id, window)
            if one is None:
                raise NotFound(f"no delivery {hook_delivery_id} for endpoint {endpoint_id}")
            found = [one]
        await conn.execute(Q["unblock_endpoint"], endpoint_id)
    return found
