"""Editor API keys: shown once at creation, stored as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from mailer.accounts.editors import Role
from mailer.db import Connection, load_queries
from mailer.errors import InvalidInput, NotFound

Q = load_queries("accounts/api_keys")
_PREFIX = "mk_"


def _hash(key: str) -> bytes:
    # A 256-bit random key needs no slow hash: SHA-256 cannot be reversed or guessed.
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class KeyHolder:
    """Who a valid key speaks for: its name (recorded with what it does) and its role, the
    same two roles as console accounts (an editor key cannot do what admins alone may)."""

    api_key_id: int
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


async def create_api_key(conn: Connection, name: str, role: str = "editor") -> tuple[int, str]:
    """(id, key); the key is returned only here and never stored. A key is an editor's
    unless made an admin's."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("an API key needs a name of 1 to 100 characters")
    if role not in {r.value for r in Role}:
        raise InvalidInput("invalid role", {"role": "editor or admin"})
    key = _PREFIX + secrets.token_urlsafe(32)
    key_id: int = await conn.fetchval(Q["create_api_key"], name, _hash(key), role)
    return key_id, key


async def authenticate(pool: asyncpg.Pool, key: str) -> KeyHolder | None:
    """Who holds a valid key, None for an unknown or revoked one."""
    if not key.startswith(_PREFIX) or len(key) > 100:
        return None
    row = await pool.fetchrow(Q["find_api_key"], _hash(key))
    return KeyHolder(row["api_key_id"], row["name"], Role(row["role"])) if row else None


async def list_api_keys(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(Q["list_api_keys"])


async def revoke_api_key(pool: asyncpg.Pool, key_id: int) -> None:
    if await pool.fetchval(Q["revoke_api_key"], key_id) is None:
        raise NotFound(f"no active API key {key_id}")
