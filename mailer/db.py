"""Connection pool lifecycle, named SQL queries, and asyncpg error translation."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from mailer.errors import DatabaseUnavailable

# A connection of our own or one borrowed from the pool: domain code takes either.
Connection = asyncpg.Connection | PoolConnectionProxy

# What a database that is restarting, unreachable or slow raises: loops that retry catch
# these. asyncpg raises InternalClientError ("another operation is in progress") when the
# pool hands out a connection whose server has just sent its fatal error but whose socket
# has not closed yet (seen during a PostgreSQL restart): the next attempt gets a new one.
DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)

# The subset that means "the database is unreachable right now", not "this query is wrong":
# a web request that meets one answers 503 with Retry-After, so a caller retries.
DB_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, cancelled
)

# Text the database cannot store (a NUL character, which PostgreSQL's text refuses): the
# caller's input, so a web request answers 400, not 500.
DB_BAD_TEXT: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)

PACKAGE_DIR = Path(__file__).parent
_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@asynccontextmanager
async def transaction(db: asyncpg.Pool | Connection) -> AsyncIterator[Connection]:
    """A transaction on a connection of the pool, or inside the caller's (a savepoint) when
    given a connection: a domain function works alone or as part of a larger change."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db


def load_queries(concern: str) -> Mapping[str, str]:
    """The named queries of mailer/<concern>.sql (e.g. "audience/signup": the SQL file beside
    the module that owns it), read once at import time."""
    text = (PACKAGE_DIR / f"{concern}.sql").read_text()
    pieces = _NAME_LINE.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(pieces[1::2], pieces[2::2], strict=True):
        if name in queries:
            raise ValueError(f"{concern}.sql defines {name} twice")
        queries[name] = body.strip()
    return MappingProxyType(queries)


def record_json(row: asyncpg.Record | Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready data: timestamps become ISO 8601 strings."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in dict(row).items()}


def describe_target(url: str) -> str:
    """host:port/dbname of a database URL, never its password."""
    parts = urlsplit(url)
    host = parts.hostname or dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get(
        "host", "localhost"
    )
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or '/'}"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _init_own_connection(conn: asyncpg.Connection) -> None:
    """A connection that is ours alone (direct, or a session pooler's): also no JIT
    compilation. mailer's queries are short, but a plan's cost counts subqueries that never
    run (a page's counts, a cursor over every subscriber), and past jit_above_cost
    PostgreSQL spends 0.1-0.7 s compiling (bench/console). Not a startup parameter: PgBouncer
    refuses those it does not know; behind a transaction pooler (whose server connections
    are shared) set jit = off on the database instead."""
    await _init_connection(conn)
    await conn.execute("SET jit = off")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool: mailer keeps no session
    state on pooled connections (no SET but the init's jit = off, no LISTEN, cursors or
    session advisory locks left behind; the migration lock is released in a `finally`).
    asyncpg has already rolled back any open transaction and dropped listeners. Its default
    reset would cost a round trip on every release (`SELECT pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL`): about as much as the signup's own statement."""


async def open_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, statement_cache: bool = True
) -> asyncpg.Pool:
    """A connected pool, or DatabaseUnavailable with one sentence saying why.

    Pooled connections must not keep session state (see `_keep_session`): use
    `SET LOCAL` and transaction-scoped advisory locks, or a connection of your own.
    `statement_cache=False` behind a pooler in transaction mode: asyncpg's named prepared
    statements would meet each other on the pooler's shared server connections ("prepared
    statement __asyncpg_stmt_1__ already exists"); without the cache it uses the unnamed
    statement, parsed and executed within one exchange (checked against PgBouncer 1.18)."""
    where = describe_target(url)
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=min(min_size, max_size),
            max_size=max_size,
            statement_cache_size=100 if statement_cache else 0,
            timeout=10,
            command_timeout=60,
            init=_init_own_connection if statement_cache else _init_connection,
            reset=_keep_session,
            server_settings={"application_name": "mailer"},
        )
    except (OSError, socket.gaierror) as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the database at {where}: {reason}") from exc
    except TimeoutError as exc:
        raise DatabaseUnavailable(f"the database at {where} did not answer in time") from exc
    except asyncpg.InvalidCatalogNameError as exc:
        raise DatabaseUnavailable(f"the database at {where} does not exist") from exc
    except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError) as exc:
        raise DatabaseUnavailable(f"the database at {where} refused the login: {exc}") from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailable(f"the database at {where} failed: {exc}") from exc
    assert pool is not None
    return pool


async def behind_transaction_pooler(url: str) -> bool:
    """Whether `url` leads through a pooler in transaction mode: two connections of ours,
    used one after the other, land on the same server process only there (directly, each
    connection has its own backend; a session pooler pins one per client). A busy pooler may
    hand out two server connections, so a False is not proof: operators set the mode."""
    where = describe_target(url)
    first: asyncpg.Connection | None = None
    second: asyncpg.Connection | None = None
    try:
        first = await asyncpg.connect(url, timeout=10, statement_cache_size=0)
        second = await asyncpg.connect(url, timeout=10, statement_cache_size=0)
        pid = await first.fetchval("SELECT pg_backend_pid()")
        return bool(pid == await second.fetchval("SELECT pg_backend_pid()"))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the database at {where}: {reason}") from exc
    finally:
        for conn in (first, second):
            if conn is not None:
                conn.terminate()
