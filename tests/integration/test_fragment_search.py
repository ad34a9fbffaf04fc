"""Address-fragment search at any size: first among the newest subscribers, then led by the
trigram index on the address with its separators kept (0049), with the same answers as a
plain newest-first scan would give. The window of newest subscribers is made tiny here so
that both steps run on a few rows."""

from __future__ import annotations

import asyncpg
import pytest

from mailer.audience import lookup, search
from mailer.audience.search import Search, search_subscribers
from mailer.tokens import Signer
from tests.support.factories import add_subscribers

ADDRESSES = [
    "ana.ng.1@example.org",  # oldest
    "ben.ng.12@example.org",
    "eve.smith.2@ex.co.uk",
    "jo.ng.3@example.net",
    "kofi.ng.14@mail.example.org",  # newest
]


async def _add(pool: asyncpg.Pool) -> list[int]:
    ids = []
    for address in ADDRESSES:
        ids += await add_subscribers(pool, 1, prefix=address.split("@")[0].replace(".", "-"))
        await pool.execute(
            "UPDATE subscribers SET email = $2, email_key = $2 WHERE subscriber_id = $1",
            ids[-1], address,
        )  # fmt: skip
    return ids


def _plain(fragment: str) -> list[str]:
    """What a scan of every address, newest first, finds."""
    return [a for a in reversed(ADDRESSES) if fragment in a]


@pytest.mark.parametrize("window", [1, 2, 1000])
@pytest.mark.parametrize("fragment", ["ng.1", ".org.", "zzz", "ng", "@example.org", "g.1"])
async def test_the_console_search_finds_what_a_scan_finds(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, window: int, fragment: str
) -> None:
    await _add(pool)
    monkeypatch.setattr(lookup, "RECENT_WINDOW", window)
    found = await lookup.search_subscribers(
        pool, fragment=fragment, status=None, topic_id=None, before=None, limit=2
    )
    assert [r["email"] for r in found] == _plain(fragment)[:2]
    if len(found) == 2:  # the next page, below the last one shown
        rest = await lookup.search_subscribers(
            pool, fragment=fragment, status=None, topic_id=None,
            before=found[-1]["subscriber_id"], limit=10,
        )  # fmt: skip
        assert [r["email"] for r in rest] == _plain(fragment)[2:]


@pytest.mark.parametrize("window", [1, 1000])
@pytest.mark.parametrize("fragment", ["ng.1", ".org.", "zzz", "example.org"])
async def test_the_api_search_finds_what_a_scan_finds_page_by_page(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, window: int, fragment: str
) -> None:
    await _add(pool)
    monkeypatch.setattr(search, "RECENT_WINDOW", window)
    signer = Signer(("test-secret-key-0123456789abcdefghijklmnop",))
    wanted = Search(q=fragment, limit=1)
    shown: list[str] = []
    rows, cursor = await search_subscribers(pool, signer, wanted)
    shown += [r["email"] for r in rows]
    while cursor:
        rows, cursor = await search_subscribers(pool, signer, wanted, cursor)
        shown += [r["email"] for r in rows]
    assert shown == _plain(fragment)
