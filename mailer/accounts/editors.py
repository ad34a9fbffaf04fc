"""Editor accounts of the console: argon2 passwords, one-time set-password links, server-side
sessions (revoked on sign-out and when an account is disabled), sign-in rate limits."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError

from mailer.addresses import address_key, normalise_email
from mailer.db import Connection, load_queries, transaction
from mailer.errors import Conflict, InvalidInput, MailerError, NotFound

Q = load_queries("accounts/editors")

SESSION_SECONDS = 12 * 3600  # a sign-in lasts a working day at most
IDLE_SECONDS = 2 * 3600  # and ends sooner when the console is left alone
PASSWORD_LINK_SECONDS = 72 * 3600
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes any length; a megabyte "password" is an attack
# Failed sign-ins allowed per window from one client IP: for any accounts, and for one
# account (since its last success). Past them that IP is refused; other IPs are not, so an
# attacker cannot keep the owner of an account out. Unknown accounts count like known ones,
# so a refusal reveals nothing.
ATTEMPT_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_IP = 20
MAX_FAILURES_PER_ACCOUNT_IP = 5
# Failures for one account from every IP (a guess spread over many addresses) never refuse
# an attempt, which would lock the owner out; they slow each attempt on that account down
# instead, by a step per failure past the first few, up to a ceiling.
SLOWDOWN_AFTER = 5
SLOWDOWN_STEP_SECONDS = 0.5
SLOWDOWN_MAX_SECONDS = 5.0

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the account is unknown, so both answers take the same time.
    Made on first use (hashing at import cost every CLI command ~50 ms of argon2); the web
    app makes it at start (prepare_sign_in), so no first request answers slower."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def prepare_sign_in() -> None:
    await asyncio.to_thread(_dummy_hash)


class Role(StrEnum):
    EDITOR = "editor"  # content and digests
    ADMIN = "admin"  # also feeds, topics, series, API keys, editors, subscriber data


class SignInRefused(MailerError):
    """Wrong password, unknown or disabled account: one answer for all of them."""


class TooManyAttempts(MailerError):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__("too many sign-in attempts; try again later")


@dataclass(frozen=True)
class Editor:
    editor_id: int
    email: str
    name: str
    role: Role
    timezone: str | None
    must_change_password: bool = False  # a given-out password: choose one before all else

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def shown_name(self) -> str:
        return self.name or self.email


@dataclass(frozen=True)
class Session:
    """A signed-in editor as the console sees them on each request."""

    session_id: int
    editor: Editor
    csrf_token: str


def _sha256(token: str) -> bytes:
    # Tokens are 256-bit random: SHA-256 is enough (nothing to brute-force).
    return hashlib.sha256(token.encode()).digest()


def check_password(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("weak password", {"password": f"at least {MIN_PASSWORD} characters"})
    if len(password) > MAX_PASSWORD:
        raise InvalidInput("invalid password", {"password": f"at most {MAX_PASSWORD} characters"})
    if password.strip().casefold() == email.strip().casefold():
        raise InvalidInput("weak password", {"password": "must not be the address"})


async def hash_password(password: str) -> str:
    # argon2 is deliberately slow (~50 ms, 64 MiB): off the event loop.
    return await asyncio.to_thread(_hasher.hash, password)


def _role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError as exc:
        raise InvalidInput("invalid role", {"role": "editor or admin"}) from exc


async def create_editor(
    pool: asyncpg.Pool | Connection,
    *,
    email: str,
    name: str = "",
    role: str = "editor",
    password: str | None = None,
) -> tuple[int, str | None]:
    """(editor_id, set-password token or None when a password was given); one transaction
    (within the caller's when given a connection)."""
    try:
        clean = normalise_email(email)
    except EmailNotValidError as exc:
        raise InvalidInput("invalid address", {"email": str(exc)}) from exc
    if len(name) > 100:
        raise InvalidInput("invalid name", {"name": "at most 100 characters"})
    checked_role = _role(role)
    hashed = None
    if password is not None:
        check_password(password, clean)
        hashed = await hash_password(password)
    async with transaction(pool) as conn:
        editor_id = await conn.fetchval(
            Q["create_editor"], clean, address_key(clean), name.strip(), checked_role.value, hashed
        )
        if editor_id is None:
            raise Conflict(f"an editor with the address {clean} exists already")
        token = None
        if hashed is None:
            token = secrets.token_urlsafe(32)
            await conn.execute(
                Q["create_password_token"], _sha256(token), editor_id, PASSWORD_LINK_SECONDS
            )
    return int(editor_id), token


async def find_editor(pool: asyncpg.Pool | Connection, email: str) -> asyncpg.Record:
    row = await pool.fetchrow(Q["get_editor_by_email"], address_key(email))
    if row is None:
        raise NotFound(f"no editor with the address {email.strip()}")
    return row


async def password_link_token(pool: asyncpg.Pool | Connection, email: str) -> str:
    """A new one-time set-password link for an existing, enabled editor (a reset)."""
    row = await find_editor(pool, email)
    if row["disabled_at"] is not None:
        raise Conflict(f"{row['email']} is disabled; enable the account first")
    token = secrets.token_urlsafe(32)
    await pool.execute(
        Q["create_password_token"], _sha256(token), row["editor_id"], PASSWORD_LINK_SECONDS
    )
    return token


async def password_link_owner(pool: asyncpg.Pool, token: str) -> asyncpg.Record | None:
    """Who a usable set-password link belongs to (email, name), or None."""
    if len(token) > 100:
        return None
    async with pool.acquire() as conn, conn.transaction():
        return await conn.fetchrow(Q["get_password_token"], _sha256(token))


async def set_password_with_token(pool: asyncpg.Pool, token: str, password: str) -> int:
    """Spend the link and set the password; every session of the editor ends (a reset
    locks out whoever had the old password). One transaction."""
    if len(token) > 100:
        raise NotFound("this link is unknown, used or expired")
    async with pool.acquire() as conn, conn.transaction():
        owner = await conn.fetchrow(Q["get_password_token"], _sha256(token))
        if owner is None:
            raise NotFound("this link is unknown, used or expired")
        check_password(password, owner["email"])
        hashed = await hash_password(password)
        await conn.execute(Q["replace_password"], owner["editor_id"], hashed)
        await conn.execute(Q["use_password_tokens"], owner["editor_id"])
        await conn.execute(Q["delete_editor_sessions"], owner["editor_id"])
    return int(owner["editor_id"])


async def set_password(pool: asyncpg.Pool, email: str, password: str) -> None:
    """Set a password directly (the CLI's --password-stdin); sessions end."""
    row = await find_editor(pool, email)
    check_password(password, row["email"])
    hashed = await hash_password(password)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q["replace_password"], row["editor_id"], hashed)
        await conn.execute(Q["use_password_tokens"], row["editor_id"])
        await conn.execute(Q["delete_editor_sessions"], row["editor_id"])


async def change_own_password(pool: asyncpg.Pool, session: Session, password: str) -> None:
    """The signed-in editor replaces their password (one given out to them, e.g. the demo
    admin's): it must differ from the old one; their other sessions end, this one stays.
    One transaction."""
    editor = session.editor
    check_password(password, editor.email)
    row = await pool.fetchrow(Q["get_editor"], editor.editor_id)
    stored = row["password_hash"] if row is not None else None
    if stored and await asyncio.to_thread(_verify, stored, password[:MAX_PASSWORD]):
        raise InvalidInput(
            "same password", {"password": "must differ from the password you were given"}
        )
    hashed = await hash_password(password)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q["replace_password"], editor.editor_id, hashed)
        await conn.execute(Q["use_password_tokens"], editor.editor_id)
        await conn.execute(Q["delete_other_sessions"], editor.editor_id, session.session_id)


async def require_password_change(conn: Connection, email: str) -> None:
    """The account's password was given out: its owner replaces it at the next sign-in."""
    await conn.execute(Q["require_password_change"], address_key(email))


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def slowdown(account_failures: int) -> float:
    """Seconds an attempt on an account waits, given its recent failures from every IP."""
    past = account_failures - SLOWDOWN_AFTER + 1
    return 0.0 if past <= 0 else min(SLOWDOWN_MAX_SECONDS, past * SLOWDOWN_STEP_SECONDS)


async def authenticate(pool: asyncpg.Pool, *, email: str, password: str, ip: str) -> int:
    """The editor_id for a right address and password of an enabled account; otherwise
    SignInRefused (the same for every reason, in about the same time), or TooManyAttempts
    past the limits of this IP (never of another IP: a right password from elsewhere still
    signs in, after the account's slowdown). Every attempt is recorded."""
    key = address_key(email)[:320]
    failures = await pool.fetchrow(Q["recent_failures"], ip, key, ATTEMPT_WINDOW_SECONDS)
    assert failures is not None
    if (
        failures["by_ip"] >= MAX_FAILURES_PER_IP
        or failures["by_account_ip"] >= MAX_FAILURES_PER_ACCOUNT_IP
    ):
        raise TooManyAttempts(ATTEMPT_WINDOW_SECONDS)
    delay = slowdown(failures["by_account"])
    if delay:
        await asyncio.sleep(delay)
    row = await pool.fetchrow(Q["get_editor_by_email"], key)
    stored = row["password_hash"] if row is not None and row["password_hash"] else None
    candidate = password[:MAX_PASSWORD]
    matches = await asyncio.to_thread(_verify, stored or _dummy_hash(), candidate)
    ok = matches and stored is not None and row is not None and row["disabled_at"] is None
    await pool.execute(Q["record_attempt"], ip, key, ok)
    if not ok or row is None:
        raise SignInRefused("the address or the password is wrong")
    if stored is not None and _hasher.check_needs_rehash(stored):
        await pool.execute(Q["set_password_hash"], row["editor_id"], await hash_password(password))
    return int(row["editor_id"])


async def start_session(
    pool: asyncpg.Pool, editor_id: int, *, ip: str | None, user_agent: str | None
) -> str:
    """A new session; returns its token (the cookie carries it signed; only its hash is
    stored). Expired sessions and old attempts are purged on the way."""
    token = secrets.token_urlsafe(32)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q["purge_sessions"], IDLE_SECONDS)
        await conn.execute(
            Q["create_session"],
            editor_id,
            _sha256(token),
            secrets.token_urlsafe(32),
            SESSION_SECONDS,
            ip if ip and ip != "unknown" else None,
            (user_agent or "")[:300] or None,
        )
        await conn.execute(Q["mark_signed_in"], editor_id)
    return token


async def find_session(pool: asyncpg.Pool, token: str) -> Session | None:
    row = await pool.fetchrow(Q["get_session"], _sha256(token), IDLE_SECONDS)
    if row is None:
        return None
    editor = Editor(
        editor_id=row["editor_id"],
        email=row["email"],
        name=row["name"],
        role=Role(row["role"]),
        timezone=row["timezone"],
        must_change_password=row["must_change_password"],
    )
    return Session(session_id=row["session_id"], editor=editor, csrf_token=row["csrf_token"])


async def end_session(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute(Q["delete_session"], _sha256(token))


async def disable_editor(pool: asyncpg.Pool, email: str) -> None:
    """The account can no longer sign in, and its open sessions end now."""
    row = await find_editor(pool, email)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q["disable_editor"], row["editor_id"])
        await conn.execute(Q["delete_editor_sessions"], row["editor_id"])


async def enable_editor(pool: asyncpg.Pool, email: str) -> None:
    row = await find_editor(pool, email)
    await pool.execute(Q["enable_editor"], row["editor_id"])


async def set_role(pool: asyncpg.Pool, email: str, role: str) -> None:
    row = await find_editor(pool, email)
    await pool.execute(Q["set_role"], row["editor_id"], _role(role).value)


async def set_timezone(pool: asyncpg.Pool, editor_id: int, timezone: str | None) -> None:
    await pool.execute(Q["set_timezone"], editor_id, timezone)


async def remember_first_zone(pool: asyncpg.Pool, editor_id: int, timezone: str) -> None:
    """The browser's zone (a valid IANA name), for an editor who has none yet: times are
    shown in it from the first sign-in, not only after a first schedule."""
    await pool.execute(Q["remember_first_zone"], editor_id, timezone)


async def list_editors(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(Q["list_editors"])


async def get_editor(pool: asyncpg.Pool, editor_id: int) -> asyncpg.Record:
    row = await pool.fetchrow(Q["get_editor_account"], editor_id)
    if row is None:
        raise NotFound(f"editor account {editor_id} does not exist")
    return row


async def change_editor(
    pool: asyncpg.Pool,
    editor_id: int,
    *,
    actor_id: int,
    role: str | None = None,
    disabled: bool | None = None,
) -> asyncpg.Record:
    """Change an account's role or access, refusing what would leave no enabled admin or
    would lock the acting admin out of this page. One transaction, serialised with every
    other such change (an advisory lock), so two admins demoting each other at once cannot
    both succeed. Disabling ends the account's sessions, as `disable_editor` does."""
    if role is not None and role not in {r.value for r in Role}:
        raise InvalidInput("invalid role", {"role": "editor or admin"})
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q["lock_editor_roles"])
        row = await conn.fetchrow(Q["get_editor_account"], editor_id)
        if row is None:
            raise NotFound(f"editor account {editor_id} does not exist")
        takes_admin_away = row["role"] == "admin" and (role == "editor" or disabled is True)
        if takes_admin_away and editor_id == actor_id:
            raise Conflict("You cannot remove your own admin access; ask another admin.")
        if takes_admin_away and not await conn.fetchval(Q["other_enabled_admins"], editor_id):
            raise Conflict(f"{row['email']} is the last enabled admin.")
        # The foundation's statements, on this transaction's connection.
        if role is not None:
            await conn.execute(Q["set_role"], editor_id, role)
        if disabled is True:
            await conn.execute(Q["disable_editor"], editor_id)
            await conn.execute(Q["delete_editor_sessions"], editor_id)
        elif disabled is False:
            await conn.execute(Q["enable_editor"], editor_id)
    return row
