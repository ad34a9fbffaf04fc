"""The consent ledger: who agreed to what, when, where, and to which exact wording."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.addresses import address_hash
from mailer.db import Connection, load_queries

Q = load_queries("consent")


@dataclass(frozen=True)
class Context:
    """Where a consent decision came from."""

    ip: str | None = None
    user_agent: str | None = None
    source: str | None = None


def _ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


async def record_consent(
    conn: Connection,
    *,
    subscriber_id: int | None,
    email: str,
    action: str,
    context: Context,
    topics: list[str] | None = None,
    consent_text: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry; the wording is stored once and referenced by its SHA-256."""
    text_hash = None
    if consent_text:
        text_hash = hashlib.sha256(consent_text.encode()).digest()
        await conn.execute(Q["save_consent_text"], text_hash, consent_text)
    await conn.execute(
        Q["insert_consent_event"],
        subscriber_id,
        address_hash(email),
        action,
        _ip(context.ip),
        (context.user_agent or "")[:500] or None,
        (context.source or "")[:500] or None,
        topics,
        text_hash,
        detail,
    )


async def consent_history(pool: asyncpg.Pool, subscriber_id: int) -> list[dict[str, Any]]:
    rows = await pool.fetch(Q["list_consent_events"], subscriber_id)
    return [
        {
            "action": row["action"],
            "at": row["occurred_at"].isoformat(),
            "ip": str(row["ip"]) if row["ip"] else None,
            "user_agent": row["user_agent"],
            "source": row["source"],
            "topics": row["topics"],
            "consent_text": row["consent_text"],
            "detail": row["detail"],
        }
        for row in rows
    ]
