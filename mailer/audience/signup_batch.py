"""Signups written in batches: those that arrive while others are being written go
together in the next statement (one transaction, one commit, one round trip for all).

A lone signup is written at once; batches form only when signups arrive faster than the
database commits them, so batching adds no wait of its own. A batch never holds two
signups of one address (the later one waits for the next batch), and the database
function (migration 0008) locks each address's row, so every per-address guarantee is the
same as for one signup at a time. One failing signup does not fail the others: a batch
that raises is retried one signup at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from mailer.db import load_queries
from mailer.delivery.wakeup import DeliveryWaker
from mailer.id_blocks import IdBlock

Q = load_queries("audience/signup")
log = logging.getLogger(__name__)

MAIL_QUEUED = frozenset({"confirm", "notice"})
MAX_BATCH = 100  # signups per statement
MAX_IN_FLIGHT = 1  # batches being written at once: one makes the biggest batches (least work)

# What the database said about one signup: (outcome, unknown topic slugs or None).
Result = tuple[str, list[str] | None]


@dataclass
class _Signup:
    key: str  # the address's email_key: one per batch
    row: tuple[Any, ...]  # a signup_request, field by field
    done: asyncio.Future[Result] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class SignupWriter:
    """Writes signups in batches (one per app; see the module docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        confirm_ttl_seconds: float,
        waker: DeliveryWaker | None = None,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.pool = pool
        self.confirm_ttl_seconds = confirm_ttl_seconds
        self.waker = waker
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        # Confirmation ids, a block at a time: a signup needs no round trip for its own.
        self.confirmation_ids = IdBlock(Q["next_confirmation_ids"], 500)
        self._waiting: list[_Signup] = []
        self._in_flight: set[asyncio.Task[None]] = set()

    async def write(self, key: str, row: tuple[Any, ...]) -> Result:
        """Write one signup (with whichever others are waiting) and return its result once
        committed. The delivery workers are woken after the commit if mail was queued."""
        signup = _Signup(key, row)
        self._waiting.append(signup)
        self._start()
        # Awaited as is (asyncio.shield would cost a turn of the event loop): if the request
        # is cancelled, so is this future, and the batch writes the signup all the same.
        return await signup.done

    def _start(self) -> None:
        while self._waiting and len(self._in_flight) < self.max_in_flight:
            batch = self._next_batch()
            task = asyncio.create_task(self._write(batch), name="signup-batch")
            self._in_flight.add(task)
            task.add_done_callback(self._finished)

    def _next_batch(self) -> list[_Signup]:
        """The oldest waiting signups, at most one per address, in arrival order."""
        batch: list[_Signup] = []
        keys: set[str] = set()
        later: list[_Signup] = []
        for signup in self._waiting:
            if len(batch) < self.max_batch and signup.key not in keys:
                keys.add(signup.key)
                batch.append(signup)
            else:
                later.append(signup)
        self._waiting = later
        return batch

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._start()

    async def _write(self, batch: list[_Signup]) -> None:
        try:
            results = await self._execute(batch)
        except asyncpg.PostgresError as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            # Retry alone, so that one signup the database refuses fails only itself.
            log.warning("%d signups failed together (%s); writing them one by one", len(batch), exc)
            for signup in batch:
                await self._write([signup])
            return
        except Exception as exc:  # the connection failed: every signup of the batch fails
            _fail(batch, exc)
            return
        except asyncio.CancelledError:
            for signup in batch:
                signup.done.cancel()
            raise
        if self.waker is not None and any(outcome in MAIL_QUEUED for outcome, _ in results):
            self.waker.wake()
        for signup, result in zip(batch, results, strict=True):
            if not signup.done.done():
                signup.done.set_result(result)

    async def _execute(self, batch: Sequence[_Signup]) -> list[Result]:
        rows = await self.pool.fetch(
            Q["sign_up"], [signup.row for signup in batch], self.confirm_ttl_seconds
        )
        by_position = {row["n"]: (row["outcome"], row["unknown_topics"]) for row in rows}
        return [by_position[n] for n in range(1, len(batch) + 1)]

    async def close(self) -> None:
        """Finish what was handed in (at shutdown, before the pool closes)."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)


def _fail(batch: Sequence[_Signup], exc: BaseException) -> None:
    for signup in batch:
        if not signup.done.done():
            signup.done.set_exception(exc)
