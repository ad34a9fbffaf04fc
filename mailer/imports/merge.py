"""Merging one chunk of checked import rows into the subscribers, set-based.

The caller holds one connection for the whole import (the staging tables are temporary,
per connection) and a transaction per chunk; everything a chunk causes is written by the
statements here inside it, so a chunk is applied whole or not at all.
"""

from __future__ import annotations

import contextlib
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mailer.audience.signup import next_confirmation_ids
from mailer.db import Connection, load_queries
from mailer.delivery import queue
from mailer.imports.rows import Row
from mailer.tokens import Signer, token_hash

Q = load_queries("imports/importer")

# A row's fields up to `source` are the staging table's first columns, in its order.
_ROW_COLUMNS = Row._fields.index("source") + 1
STAGE_COLUMNS = [*Row._fields[:_ROW_COLUMNS], "topics_given", "topic_ids"]

StageRecord = tuple[Any, ...]  # in STAGE_COLUMNS order


def stage_record(row: Row, topic_ids: list[int], topics_given: bool) -> StageRecord:
    return (*row[:_ROW_COLUMNS], topics_given, topic_ids)


@dataclass
class Pacing:
    """When the next import confirmation is due: `rate` per second from `next_due`."""

    rate: float
    next_due: datetime | None = None

    def due_times(self, count: int) -> list[datetime]:
        assert self.next_due is not None
        step = timedelta(seconds=1 / self.rate)
        times = [self.next_due + step * i for i in range(count)]
        self.next_due += step * count
        return times


@dataclass(frozen=True)
class MergeContext:
    mode: str  # 'consented' or 'opt_in'
    import_id: int | None
    source: str | None  # the consent source note
    consent_text_hash: bytes | None
    default_topic_ids: list[int]  # for new subscribers whose row says nothing of topics
    signer: Signer
    confirm_ttl_seconds: float
    pacing: Pacing
    send_confirmations: bool = True  # off in a dry run: counted, not queued


@dataclass
class ChunkOutcome:
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (action, detail)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line, first line)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, reason key)
    confirmations: int = 0


async def prepare(conn: Connection) -> None:
    """The connection's staging tables, empty."""
    for name in ("session_settings", "create_stage", "create_plan", "create_seen"):
        await conn.execute(Q[name])
    await conn.execute(Q["reset_seen"])


async def leave_clean(conn: Connection) -> None:
    """Pooled connections are released without asyncpg's reset: drop the staging tables
    and the session setting before this one goes back (best effort if it broke)."""
    with contextlib.suppress(Exception):
        await conn.execute(Q["discard_staging"])
        await conn.execute(Q["reset_settings"])


async def stage(conn: Connection, records: Sequence[StageRecord]) -> list[tuple[int, int]]:
    """COPY a chunk into the staging table; drops (and returns) the rows whose address an
    earlier chunk of this import had, as (line, first line), and marks the others' addresses
    seen, in the chunk's transaction (a dry run, which rolls it back, marks them again)."""
    await conn.execute(Q["reset_chunk"])
    await conn.copy_records_to_table("import_stage", records=records, columns=STAGE_COLUMNS)
    await conn.execute(Q["analyze_stage"])
    return [(r["line"], r["first_line"]) for r in await conn.fetch(Q["drop_and_mark_seen"])]


async def mark_seen(conn: Connection, keys: Sequence[str], lines: Sequence[int]) -> None:
    await conn.execute(Q["mark_seen"], list(keys), list(lines))


# Which statements have work for which actions: the others are not sent (a file imported
# again, every row unchanged, costs its lookups and nothing more).
_CHANGING = frozenset({"activate", "update", "unsubscribe", "suppress"})
_TOPICS = frozenset({"create", "activate", "update"})
_SERIES = frozenset({"create", "activate"})
_LEDGER = frozenset({"create", "activate", "update", "unsubscribe"})
_EVENTS = _LEDGER | {"suppress"}


async def merge(conn: Connection, ctx: MergeContext, *, suppressing: bool = True) -> ChunkOutcome:
    """Apply the staged chunk: every effect of the import on its subscribers, set-based.
    `suppressing`: some staged row asks for a suppression."""
    outcome = ChunkOutcome()
    if await conn.fetchval(Q["find_existing"], ctx.mode):
        await conn.execute(Q["create_new"], ctx.mode, ctx.default_topic_ids)
        await conn.execute(Q["decide"])
    for row in await conn.fetch(Q["chunk_outcomes"]):
        outcome.counts[(row["action"], row["detail"])] += row["n"]
    actions = {action for action, _ in outcome.counts}
    if actions & _CHANGING:
        await conn.execute(Q["apply_changes"])
    if actions & _TOPICS:
        await conn.execute(Q["add_topics"], ctx.default_topic_ids)
    if actions & _CHANGING:
        await conn.execute(Q["note_topics"])
    if actions & _SERIES:
        await conn.execute(Q["add_default_series"])
    if suppressing:
        await conn.execute(Q["add_suppressions"], f"import {ctx.import_id or '(dry run)'}")
    if actions & _LEDGER:
        await conn.execute(
            Q["add_consent_events"], ctx.source, ctx.consent_text_hash, ctx.import_id, ctx.mode
        )
    if actions & _EVENTS:
        await conn.execute(Q["add_events"], ctx.import_id)
    if "skip" in actions:
        outcome.skipped = [(r["line"], r["reason"]) for r in await conn.fetch(Q["skipped_lines"])]
    if ("create", "pending") in outcome.counts:
        pending = await conn.fetch(Q["new_pending"])
        outcome.confirmations = len(pending)
        if pending and ctx.send_confirmations:
            await _queue_confirmations(conn, ctx, pending)
    return outcome


async def _queue_confirmations(conn: Connection, ctx: MergeContext, pending: Sequence[Any]) -> None:
    """A confirmation request per new pending subscriber, as signup.py makes them (a random
    nonce, only the token's hash stored, the link derived at send time), queued in bulk."""
    if ctx.pacing.next_due is None:
        ctx.pacing.next_due = await conn.fetchval(Q["confirmation_pace_start"])
    ids = await next_confirmation_ids(conn, len(pending))
    nonces = [secrets.token_bytes(16) for _ in pending]
    hashes = [
        token_hash(ctx.signer.confirmation_token(cid, nonce))
        for cid, nonce in zip(ids, nonces, strict=True)
    ]
    subscriber_ids = [r["subscriber_id"] for r in pending]
    due = ctx.pacing.due_times(len(pending))
    await conn.execute(
        Q["insert_confirmations"],
        ids,
        subscriber_ids,
        nonces,
        hashes,
        due,
        ctx.confirm_ttl_seconds,
    )
    payloads = [
        {"confirmation_id": cid, "nonce": nonce.hex()}
        for cid, nonce in zip(ids, nonces, strict=True)
    ]
    await conn.execute(
        Q["enqueue_confirmations"], subscriber_ids, [r["email"] for r in pending], payloads, due
    )
    await conn.execute(Q["mark_noticed"], subscriber_ids)
    await queue.wake_workers(conn)
