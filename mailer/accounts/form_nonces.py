"""One-time nonces of the console forms that make a secret shown once (an API key, a
set-password link): a re-post of such a form (a reloaded answer page) makes nothing and is
told what the first post made."""

from __future__ import annotations

import hashlib

from mailer.db import Connection, load_queries
from mailer.errors import Conflict

Q = load_queries("accounts/form_nonces")
MAX_NONCE = 100  # the forms' nonces are 24 characters; anything longer is not ours


class AlreadyDone(Conflict):
    """The form was posted before; `done` says what that post made (never a secret)."""

    def __init__(self, done: str) -> None:
        self.done = done
        super().__init__(f"this form was sent already: {done}")


async def spend(conn: Connection, nonce: str | None, *, editor_id: int, done: str) -> None:
    """Spend the nonce in the caller's transaction, which then makes what `done` says; an
    already spent one raises AlreadyDone (roll back: nothing is made twice). Of two posts at
    once, the second waits for the first to commit, then is refused. Old nonces are purged.
    A post without a nonce (a script's) is not protected: nothing to spend."""
    if not nonce:
        return
    nonce_hash = hashlib.sha256(nonce[:MAX_NONCE].encode()).digest()
    if await conn.fetchval(Q["spend_nonce"], nonce_hash, editor_id, done) is None:
        first = await conn.fetchval(Q["get_nonce"], nonce_hash)
        raise AlreadyDone(first or done)
