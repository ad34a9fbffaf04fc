"""Items stored chunk by chunk (while the next chunk is parsed) end as one call stores them:
the same rows, the same counts, the same item for each key, whatever the chunk size."""

from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from mailer.content import feeds
from mailer.content.items import ItemBatch, store_items
from mailer.content.parse import ParsedItem

SITE = "https://news.example.org"


def item(guid: str | None, link: str | None, title: str) -> ParsedItem:
    return ParsedItem(
        guid=guid, link=link, title=title, summary_html=f"<p>{title}</p>", summary_text=title
    )


async def outcome(
    pool: asyncpg.Pool, source_id: int, items: list[ParsedItem], size: int
) -> tuple[Any, ...]:
    """What storing `items` in chunks of `size` leaves behind (rolled back afterwards)."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            batch = ItemBatch(source_id, lambda _: [])
            for start in range(0, len(items), size):
                await batch.add(conn, items[start : start + size])
            result = batch.result()
            rows = await conn.fetch(
                "SELECT item_id, source_id, guid, link, title FROM items "
                "ORDER BY source_id, guid NULLS LAST, link NULLS LAST"
            )
        finally:
            await transaction.rollback()
    names = {r["item_id"]: (r["guid"], r["link"]) for r in rows}
    found = {key: names.get(item_id, "gone") for key, item_id in result.item_ids.items()}
    table = [(r["source_id"], r["guid"], r["link"], r["title"]) for r in rows]
    return result.created, result.updated, result.unchanged, found, table


async def test_chunks_store_what_one_call_stores(pool: asyncpg.Pool) -> None:
    mine = (await feeds.create_source(pool, url=f"{SITE}/a.xml"))["source_id"]
    other = (await feeds.create_source(pool, url=f"{SITE}/b.xml"))["source_id"]
    async with pool.acquire() as conn, conn.transaction():
        await store_items(conn, mine, [
            item("g1", f"{SITE}/old-1", "One"), item("g2", f"{SITE}/old-2", "Two"),
            item("g3", f"{SITE}/three", "Three"), item(None, f"{SITE}/linkonly", "Link only"),
        ], lambda _: [])  # fmt: skip
        await store_items(conn, other, [item("o1", f"{SITE}/shared", "Shared")], lambda _: [])
    poll = [
        item("n2", f"{SITE}/new-1", "Takes the link g1 moves to"),  # one call skips it
        item("n1", f"{SITE}/n1", "New"),
        item("n1", f"{SITE}/n1-again", "Same guid again"),  # the first of a key wins
        item("g1", f"{SITE}/new-1", "One, moved"),  # changed: a new link and title
        item("n3", f"{SITE}/old-2", "Has g2's old link"),  # changes g2, found as it was
        item("g2", f"{SITE}/new-2", "Two, moved"),  # already matched: unchanged
        item("g3", f"{SITE}/three", "Three"),  # unchanged
        item("n4", f"{SITE}/shared", "Another source's article"),  # a duplicate
        item(None, f"{SITE}/y", "No guid"),
        item("n5", f"{SITE}/y", "Same link, new guid"),  # one call skips it
        item(None, None, "Only a title"),
        item("n6", f"{SITE}/linkonly", "Found by link"),
        item("n7", f"{SITE}/n7", "New too"),
    ]
    whole = await outcome(pool, mine, poll, len(poll))
    created, updated, unchanged, found, table = whole
    assert (created, updated, unchanged) == (4, 3, 3)
    assert (mine, "g1", f"{SITE}/new-1", "One, moved") in table
    assert not any(row[1] == "n2" for row in table)
    assert found["g1"] == ("g1", f"{SITE}/new-1") and "n2" not in found
    for size in (1, 2, 3, 5):
        assert await outcome(pool, mine, poll, size) == whole, f"chunks of {size}"


async def test_a_poll_stores_chunks_as_they_are_made_and_fails_as_parsing_fails(
    pool: asyncpg.Pool,
) -> None:
    source_id = (await feeds.create_source(pool, url=f"{SITE}/c.xml"))["source_id"]

    def chunks(fail: bool) -> Iterator[list[ParsedItem]]:
        name = "f" if fail else "c"  # new items either way
        yield [item(f"{name}{i}", f"{SITE}/{name}{i}", f"C {i}") for i in range(3)]
        if fail:
            raise ValueError("a bug while sanitising")
        yield [item("c9", f"{SITE}/c9", "C 9")]

    async with pool.acquire() as conn, conn.transaction():
        batch = ItemBatch(source_id, lambda _: [])
        assert await feeds._store_as_made(conn, batch, chunks(fail=False)) == 4
        assert batch.result().created == 4
    with pytest.raises(ValueError, match="a bug"):
        async with pool.acquire() as conn, conn.transaction():
            await feeds._store_as_made(conn, ItemBatch(source_id, lambda _: []), chunks(True))
    # the chunk stored before the failure went with the transaction
    assert await pool.fetchval("SELECT count(*) FROM items WHERE source_id = $1", source_id) == 4
