"""The item store: upsert parsed items in batches, de-duplicated across polls and sources."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import asyncpg

from mailer.content.parse import ParsedItem
from mailer.content.sanitise import clean_line, sanitise_html, to_text
from mailer.db import Connection, load_queries, record_json
from mailer.errors import InvalidInput, NotFound
from mailer.numbers import whole_number

Q = load_queries("content/items")


@dataclass(frozen=True)
class StoreResult:
    created: int
    updated: int
    unchanged: int
    item_ids: dict[str, int]  # guid (or link) -> item_id, for what was stored or found


_FIELDS = tuple(f.name for f in fields(ParsedItem))
# json.dumps(data, sort_keys=True, default=str), with the encoder made once instead of per call.
_HASH_JSON = json.JSONEncoder(sort_keys=True, default=str).encode


def _hash(item: ParsedItem, topic_ids: list[int]) -> bytes:
    """What was stored, as the JSON of asdict(item) (the fields are flat: a shallow dict is
    the same, without asdict's deep copies) with the topic ids."""
    data = {name: getattr(item, name) for name in _FIELDS}
    data["topic_ids"] = topic_ids
    return hashlib.sha256(_HASH_JSON(data).encode()).digest()


def _key(item: ParsedItem) -> str:
    return item.guid or item.link or item.title


def topics_by_rules(
    default_topic_ids: Sequence[int], topics_for: dict[str, list[int]]
) -> Callable[[ParsedItem], list[int]]:
    """A source's topics for an item: its default topics plus those its categories map to."""

    def topics_of(item: ParsedItem) -> list[int]:
        mapped = {t for c in item.categories for t in topics_for.get(c.casefold(), [])}
        return sorted(set(default_topic_ids) | mapped)

    return topics_of


async def store_items(
    conn: Connection,
    source_id: int,
    parsed: Sequence[ParsedItem],
    topics_of: Callable[[ParsedItem], list[int]],
) -> StoreResult:
    """Insert new items and update changed ones in two set-based statements.

    An item is the same item when its guid matches one of this source's, or its canonical
    link matches any source's (the same article in two feeds is one item)."""
    batch = ItemBatch(source_id, topics_of)
    await batch.add(conn, parsed)
    return batch.result()


class ItemBatch:
    """store_items() for a feed whose items arrive in chunks (so that PostgreSQL stores one
    chunk while the next is parsed), with the outcome of one call over all of them: the
    first item of a key wins, items are matched against the rows as they were before the
    poll, and changed rows are updated as if before any insert (a row created by an earlier
    chunk that takes the link an update gives back is removed; one call would not have
    inserted it). Use it inside one transaction."""

    def __init__(self, source_id: int, topics_of: Callable[[ParsedItem], list[int]]) -> None:
        self.source_id = source_id
        self.topics_of = topics_of
        self.seen: set[str] = set()
        self.before: dict[int, asyncpg.Record] = {}  # rows as they were before this poll
        self.by_guid: dict[str, asyncpg.Record] = {}
        self.by_link: dict[str, asyncpg.Record] = {}
        self.created: dict[int, tuple[str, str | None]] = {}  # item_id -> (found key, link)
        self.found: dict[str, int] = {}
        self.taken: set[int] = set()
        self.updated = 0
        self.unchanged = 0

    async def add(self, conn: Connection, parsed: Sequence[ParsedItem]) -> None:
        items = []
        for item in parsed:
            if (key := _key(item)) not in self.seen:
                self.seen.add(key)
                items.append(item)
        if not items:
            return
        self._remember(
            await conn.fetch(
                Q["find_existing"],
                self.source_id,
                [i.guid for i in items if i.guid],
                [i.link for i in items if i.link],
            )
        )
        new: list[tuple[ParsedItem, list[int], bytes]] = []
        changed: list[tuple[int, ParsedItem, list[int], bytes]] = []
        for item in items:
            topic_ids = self.topics_of(item)
            digest = _hash(item, topic_ids)
            match = (self.by_guid.get(item.guid) if item.guid else None) or (
                self.by_link.get(item.link) if item.link else None
            )
            if match is None:
                new.append((item, topic_ids, digest))
                continue
            self.found[_key(item)] = match["item_id"]
            # Another source's copy of the same article is a duplicate, not an update: only
            # the source an item came from changes it.
            if (
                match["content_hash"] == digest
                or match["item_id"] in self.taken
                or match["source_id"] != self.source_id
            ):
                self.unchanged += 1
            else:
                self.taken.add(match["item_id"])
                changed.append((match["item_id"], item, topic_ids, digest))
        if changed:
            await self._forget_created({c[1].link for c in changed if c[1].link}, conn)
            await conn.execute(Q["update_items"], [c[0] for c in changed], *_columns(changed))
            self.updated += len(changed)
        if new:
            rows = await conn.fetch(
                Q["insert_items"], self.source_id, [n[0].guid for n in new], *_columns(new)
            )
            for row in rows:
                key = row["guid"] or row["link"]
                self.found[key] = row["item_id"]
                self.created[row["item_id"]] = (key, row["link"])

    def _remember(self, rows: Sequence[asyncpg.Record]) -> None:
        """Rows first met now are as they were before the poll: a row this poll updated was
        met (and remembered) before it was updated; a row it created is not one of them."""
        for row in rows:
            if row["item_id"] in self.created or row["item_id"] in self.before:
                continue
            self.before[row["item_id"]] = row
            if row["source_id"] == self.source_id and row["guid"]:
                self.by_guid[row["guid"]] = row
            if row["link"]:
                self.by_link[row["link"]] = row

    async def _forget_created(self, links: set[str], conn: Connection) -> None:
        gone = [i for i, (_, link) in self.created.items() if link in links]
        if gone:
            await conn.execute(Q["delete_created_items"], gone)
            for item_id in gone:
                key, _ = self.created.pop(item_id)
                if self.found.get(key) == item_id:
                    del self.found[key]

    def result(self) -> StoreResult:
        return StoreResult(len(self.created), self.updated, self.unchanged, self.found)


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Per-column arrays for unnest(); rows end with (item, topic_ids, content_hash)."""
    entries = [(r[-3], r[-2], r[-1]) for r in rows]
    return [
        [i.link for i, _, _ in entries],
        [i.title for i, _, _ in entries],
        [i.summary_html for i, _, _ in entries],
        [i.summary_text for i, _, _ in entries],
        [i.image_url for i, _, _ in entries],
        [i.image_alt for i, _, _ in entries],
        [i.author for i, _, _ in entries],
        [i.language for i, _, _ in entries],
        [json.dumps(list(i.categories)) for i, _, _ in entries],
        [json.dumps(t) for _, t, _ in entries],
        [i.published_at for i, _, _ in entries],
        [h for _, _, h in entries],
    ]


async def topic_ids_by_slug(conn: Connection) -> dict[str, int]:
    return {r["slug"]: r["topic_id"] for r in await conn.fetch(Q["topic_ids_by_slug"])}


async def list_items(
    pool: asyncpg.Pool,
    *,
    topic_id: int | None = None,
    source_id: int | None = None,
    since: datetime | None = None,
    unsent: bool = False,
    search: str | None = None,
    include_hidden: bool = False,
    after: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        Q["list_items"],
        topic_id,
        source_id,
        since,
        unsent,
        search,
        include_hidden,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [record_json(r) for r in rows]


async def edit_item(
    pool: asyncpg.Pool,
    item_id: int,
    *,
    title: str | None = None,
    summary_html: str | None = None,
    topics: list[str] | None = None,
    hidden: bool | None = None,
) -> None:
    """An editor's change before the item goes into a digest; upstream updates no longer
    overwrite an edited title, summary or topics."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(Q["get_item"], item_id)
        if row is None:
            raise NotFound(f"item {item_id} does not exist")
        new_title = clean_line(title, 300) if title is not None else row["title"]
        if not new_title:
            raise InvalidInput("invalid item", {"title": "must not be empty"})
        new_summary = (
            sanitise_html(summary_html) if summary_html is not None else row["summary_html"]
        )
        topic_ids = row["topic_ids"]
        if topics is not None:
            known = await topic_ids_by_slug(conn)
            unknown = [t for t in topics if t not in known]
            if unknown:
                raise InvalidInput("invalid item", {"topics": f"unknown: {', '.join(unknown[:5])}"})
            topic_ids = sorted({known[t] for t in topics})
        edited = title is not None or summary_html is not None or topics is not None
        await conn.execute(
            Q["edit_item"],
            item_id,
            new_title,
            new_summary,
            to_text(new_summary),
            topic_ids,
            row["hidden"] if hidden is None else hidden,
            edited,
        )


def items_cursor(last: dict[str, Any]) -> str:
    """The keyset cursor after this row of list_items (its published time and id)."""
    stamp = datetime.fromisoformat(last["published_at"])
    return f"{round(stamp.timestamp() * 1e6)}-{last['item_id']}"


def parse_items_cursor(cursor: str) -> tuple[datetime, int]:
    micros, _, last_id = cursor.partition("-")
    stamp, item_id = whole_number(micros), whole_number(last_id)
    if stamp is None or item_id is None:
        raise InvalidInput("invalid cursor", {"cursor": "use next_cursor as given"})
    return datetime.fromtimestamp(stamp / 1e6, UTC), item_id
