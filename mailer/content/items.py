"""The item store: upsert parsed items in batches, de-duplicated across polls and sources."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
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


def _hash(item: ParsedItem, topic_ids: list[int]) -> bytes:
    data = asdict(item) | {"topic_ids": topic_ids}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).digest()


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
    unique: dict[str, ParsedItem] = {}
    for item in parsed:
        unique.setdefault(_key(item), item)
    items = list(unique.values())
    existing = await conn.fetch(
        Q["find_existing"],
        source_id,
        [i.guid for i in items if i.guid],
        [i.link for i in items if i.link],
    )
    by_guid = {r["guid"]: r for r in existing if r["source_id"] == source_id and r["guid"]}
    by_link = {r["link"]: r for r in existing if r["link"]}
    new: list[tuple[ParsedItem, list[int], bytes]] = []
    changed: list[tuple[int, ParsedItem, list[int], bytes]] = []
    found: dict[str, int] = {}
    taken: set[int] = set()
    unchanged = 0
    for item in items:
        topic_ids = topics_of(item)
        digest = _hash(item, topic_ids)
        match = (by_guid.get(item.guid) if item.guid else None) or (
            by_link.get(item.link) if item.link else None
        )
        if match is None:
            new.append((item, topic_ids, digest))
            continue
        found[_key(item)] = match["item_id"]
        # Another source's copy of the same article is a duplicate, not an update: only the
        # source an item came from changes it.
        if (
            match["content_hash"] == digest
            or match["item_id"] in taken
            or match["source_id"] != source_id
        ):
            unchanged += 1
        else:
            taken.add(match["item_id"])
            changed.append((match["item_id"], item, topic_ids, digest))
    if changed:
        await conn.execute(Q["update_items"], [c[0] for c in changed], *_columns(changed))
    created = 0
    if new:
        rows = await conn.fetch(
            Q["insert_items"], source_id, [n[0].guid for n in new], *_columns(new)
        )
        created = len(rows)
        for row in rows:
            found[row["guid"] or row["link"]] = row["item_id"]
    return StoreResult(created, len(changed), unchanged, found)


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
