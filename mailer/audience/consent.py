"""The consent ledger: who agreed to what, when, where, and to which exact wording."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.addresses import address_hash
from mailer.db import Connection, load_queries

Q = load_queries("audience/consent")


@dataclass(frozen=True)
class Context:
    """Where a consent decision came from."""

    ip: str | None = None
    user_agent: str | None = None
    source: str | None = None


# A dotted quad as ipaddress writes it (no leading zeros, each part 0-255): kept as is.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def ledger_ip(value: str | None) -> str | None:
    """The IP as the ledger keeps it: a valid address or nothing."""
    if not value:
        return None
    if _IPV4.fullmatch(value):  # the usual case, without building an address object
        return value
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def ledger_text(value: str | None) -> str | None:
    """A user agent or source as the ledger keeps it: at most 500 characters, or nothing."""
    return (value or "")[:500] or None


def text_hash(consent_text: str | None) -> bytes | None:
    """The key a consent wording is stored under (once per distinct text)."""
    return hashlib.sha256(consent_text.encode()).digest() if consent_text else None


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
    wording = text_hash(consent_text)
    if wording is not None:
        await conn.execute(Q["save_consent_text"], wording, consent_text)
    await conn.execute(
        Q["insert_consent_event"],
        subscriber_id,
        address_hash(email),
        action,
        ledger_ip(context.ip),
        ledger_text(context.user_agent),
        ledger_text(context.source),
        topics,
        wording,
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


async def save_consent_text(conn: Connection, consent_text: str) -> bytes:
    """Store a consent wording once (by its hash) and return the key entries refer to it by."""
    wording = hashlib.sha256(consent_text.encode()).digest()
    await conn.execute(Q["save_consent_text"], wording, consent_text)
    return wording
