"""Helpers for console tests: an app with the console, editors, signing in through the form."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.accounts import editors
from mailer.web.app import create_app
from tests.support.factories import engine_settings

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')

Client = TestClient[web.Request, web.Application]


def console_app(pool: asyncpg.Pool, tmp_path: Path, **changes: Any) -> web.Application:
    """The whole web app, reached over plain http (so cookies need not be Secure)."""
    settings = engine_settings(tmp_path, **{"base_url": "http://127.0.0.1:8080", **changes})
    return create_app(settings, pool)


async def add_editor(
    pool: asyncpg.Pool, email: str = "ana@example.org", role: str = "editor", name: str = "Ana"
) -> int:
    editor_id, _ = await editors.create_editor(
        pool, email=email, name=name, role=role, password=PASSWORD
    )
    return editor_id


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, html[:2000]
    return found.group(1)


async def sign_in(
    client: Client, email: str = "ana@example.org", password: str = PASSWORD
) -> tuple[int, str]:
    """(status, page text) of posting the sign-in form as a browser would."""
    form = await client.get("/console/sign-in")
    token = csrf_of(await form.text())
    response = await client.post(
        "/console/sign-in",
        data={"csrf_token": token, "email": email, "password": password, "next": "/console/"},
        allow_redirects=False,
    )
    return response.status, await response.text()


async def signed_in(client: Client, email: str = "ana@example.org") -> str:
    """Sign in and return the session's CSRF token (from the dashboard)."""
    status, _ = await sign_in(client, email)
    assert status == 303
    page = await client.get("/console/")
    assert page.status == 200
    return csrf_of(await page.text())


XSS = "<script>alert('xss')</script><img src=x onerror=alert(1)>"


async def newsroom(pool: asyncpg.Pool, *, readers: int = 3) -> dict[str, Any]:
    """Two topics, a default series, four recent items (one titled with a script), and
    active readers of both topics in the series. Returns the ids."""
    from datetime import UTC, datetime, timedelta

    from mailer.audience import topics
    from mailer.content.items import store_items
    from mailer.content.parse import ParsedItem
    from mailer.editorial import series
    from tests.support.factories import add_subscribers

    overdose = await topics.create_topic(pool, name="Overdose Prevention", position=1)
    vaccines = await topics.create_topic(pool, name="Vaccines", position=2)
    weekly = await series.create_series(
        pool, name="Weekly news", cron="0 9 * * tue", timezone="Europe/Berlin",
        now=datetime.now(UTC), is_default=True,
    )  # fmt: skip
    now = datetime.now(UTC)
    titles = [
        ("Naloxone in every pharmacy", overdose.topic_id),
        ("Measles cases fall", vaccines.topic_id),
        (f"Harm reduction {XSS}", overdose.topic_id),
        ("Flu shots for all ages", vaccines.topic_id),
    ]
    parsed = [
        ParsedItem(
            guid=f"guid-{n}",
            link=f"https://news.example.org/story-{n}",
            title=title,
            summary_html=f"<p>Story {n}.</p>",
            summary_text=f"Story {n}.",
            published_at=now - timedelta(hours=n + 1),
        )
        for n, (title, _) in enumerate(titles)
    ]
    topic_of = {p.guid: t for p, (_, t) in zip(parsed, titles, strict=True)}
    source_id = await pool.fetchval("SELECT source_id FROM feed_sources WHERE kind = 'push'")
    async with pool.acquire() as conn:
        stored = await store_items(conn, source_id, parsed, lambda i: [topic_of[i.guid]])
    item_ids = [stored.item_ids[p.guid or ""] for p in parsed]
    subscriber_ids = await add_subscribers(pool, readers)
    await pool.execute(
        "INSERT INTO subscriber_topics SELECT s, t FROM unnest($1::bigint[]) s, "
        "unnest($2::bigint[]) t",
        subscriber_ids,
        [overdose.topic_id, vaccines.topic_id],
    )
    await pool.execute(
        "INSERT INTO subscriber_series SELECT s, $2 FROM unnest($1::bigint[]) s",
        subscriber_ids,
        weekly["series_id"],
    )
    return {
        "series_id": weekly["series_id"],
        "item_ids": item_ids,
        "subscriber_ids": subscriber_ids,
        "topics": [overdose.slug, vaccines.slug],
    }


_TAGS = re.compile(r"<script\b.*?</script>|<style\b.*?</style>|<[^>]+>", re.S | re.I)
_RAW = re.compile(
    r"<built-in|<bound method|\bNone\b|object at 0x|<Record |Record\(|\{'|\[\]|\bundefined\b"
)


def visible_text(html: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded."""
    import html as html_module

    return " ".join(html_module.unescape(_TAGS.sub(" ", html)).split())


def assert_no_raw_values(html: str) -> None:
    """No Python repr, None or method object leaked into the visible text."""
    text = visible_text(html)
    found = _RAW.search(text)
    assert found is None, (
        f"raw value {found.group(0)!r} in: …{text[max(0, found.start() - 80) : found.end() + 80]}…"
    )
