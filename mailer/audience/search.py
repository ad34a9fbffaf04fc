"""Finding subscribers: address fragment, status, topic and signup date, newest first,
in pages linked by opaque cursors (signed, and bound to the search they belong to)."""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from mailer.addresses import address_key
from mailer.db import load_queries
from mailer.errors import InvalidInput
from mailer.models import SubscriberStatus
from mailer.tokens import InvalidToken, Purpose, Signer

Q = load_queries("audience/search")

MAX_LIMIT = 500
MIN_FRAGMENT = 3  # a trigram
# How many of the newest signups a fragment search reads before it asks the trigram index
# instead (tens of milliseconds; bench/console).
RECENT_WINDOW = 20_000
_CURSOR = struct.Struct(">qQ8s")  # created_at in microseconds, subscriber_id, search print
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Search:
    q: str | None = None  # a fragment of the address, any case
    status: str | None = None
    topic: str | None = None  # slug
    since: datetime | None = None  # signed up at or after
    until: datetime | None = None  # signed up before
    limit: int = 50

    def fingerprint(self) -> bytes:
        """What a cursor is bound to: the filters (not the page size)."""
        shown = [self.q, self.status, self.topic, _iso(self.since), _iso(self.until)]
        return hashlib.sha256(json.dumps(shown).encode()).digest()[:8]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _like(fragment: str) -> str:
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def make_cursor(signer: Signer, search: Search, created_at: datetime, subscriber_id: int) -> str:
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return signer.sign_blob(
        Purpose.CURSOR, _CURSOR.pack(micros, subscriber_id, search.fingerprint())
    )


def read_cursor(signer: Signer, search: Search, cursor: str) -> tuple[datetime, int]:
    """(created_at, subscriber_id) after which the next page starts; InvalidInput for
    anything that is not a cursor this server made for this same search."""
    try:
        data = signer.read_blob(Purpose.CURSOR, cursor)
    except InvalidToken as exc:
        raise InvalidInput(
            "invalid cursor",
            {"cursor": "not a cursor from a previous page: pass next_cursor as given"},
        ) from exc
    if len(data) != _CURSOR.size:
        raise InvalidInput("invalid cursor", {"cursor": "not a page cursor"})
    micros, subscriber_id, fingerprint = _CURSOR.unpack(data)
    if fingerprint != search.fingerprint():
        raise InvalidInput(
            "invalid cursor",
            {"cursor": "it belongs to a search with other filters: start again without it"},
        )
    return _EPOCH + timedelta(microseconds=micros), subscriber_id


def check_search(search: Search) -> None:
    problems = {}
    if search.q is not None and len(search.q) > 320:
        problems["q"] = "at most 320 characters"
    elif search.q is not None and len(search.q.strip()) < MIN_FRAGMENT:
        # Shorter fragments match nothing useful and no index can serve them: a search for
        # two letters reads every subscriber (seconds at a million).
        problems["q"] = f"at least {MIN_FRAGMENT} characters of the address"
    if not 1 <= search.limit <= MAX_LIMIT:
        problems["limit"] = f"between 1 and {MAX_LIMIT}"
    if search.since and search.until and search.since >= search.until:
        problems["until"] = "must be later than since"
    if problems:
        raise InvalidInput("invalid search", problems)


async def search_subscribers(
    pool: asyncpg.Pool, signer: Signer, search: Search, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of subscribers and the cursor of the next page (None on the last one)."""
    check_search(search)
    status, topic_id = await resolve_filters(pool, search.status, search.topic)
    after: tuple[datetime | None, int | None] = (None, None)
    if cursor:
        after = read_cursor(signer, search, cursor)
    pattern = _like(address_key(search.q)) if search.q and search.q.strip() else None
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute(Q["custom_plans"])
        args = (pattern, status, topic_id, search.since, search.until, *after, search.limit + 1)
        if pattern is None:
            query = "search_subscribers" if topic_id is None else "search_subscribers_in_topic"
            rows = await conn.fetch(Q[query], *args)
        else:
            # Among the newest first (a common fragment fills the page there), then, when
            # that did not fill it, led by the address index (a rare fragment, or none).
            rows = await conn.fetch(Q["search_recent_by_fragment"], *args, RECENT_WINDOW)
            if len(rows) <= search.limit:
                rows = await conn.fetch(Q["search_by_fragment"], *args)
    page = rows[: search.limit]
    following = None
    if len(rows) > search.limit:
        last = page[-1]
        following = make_cursor(signer, search, last["created_at"], last["subscriber_id"])
    return [subscriber_json(r) for r in page], following


async def resolve_filters(
    pool: asyncpg.Pool, status: str | None, topic: str | None
) -> tuple[str | None, int | None]:
    """A checked status and the topic slug's id; InvalidInput naming what is wrong."""
    problems = {}
    if status and status not in set(SubscriberStatus) - {SubscriberStatus.ERASED}:
        problems["status"] = "one of pending, active, unsubscribed, suppressed"
    topic_id = None
    if topic:
        topic_id = await pool.fetchval(Q["topic_id"], topic)
        if topic_id is None:
            problems["topic"] = f"no topic {topic[:60]!r}"
    if problems:
        raise InvalidInput("invalid filter", problems)
    return status or None, topic_id


def subscriber_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in dict(row).items()
    }
