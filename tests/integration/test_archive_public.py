"""The public archive people find: full text in pages and Atom, tags a link preview reads,
the sitemap and robots.txt, and full-text search in English and Spanish."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import asyncpg
import feedparser
import pytest

from mailer.audience.topics import create_topic
from mailer.config import Settings
from mailer.content.items import edit_item
from mailer.content.parse import ParsedItem
from mailer.web.app import create_app
from tests.support.archive import NOW, sent_digest
from tests.support.factories import engine_settings
from tests.support.helpers import ClientFactory
from tests.support.newsroom import Client

ORG = "Springfield Health News"
BASE = "https://news.example.org"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class HeadReader(HTMLParser):
    """What a link-preview bot reads: the <head> only (title, meta, link), nothing else."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.title = ""
        self._in_head = self._in_title = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "head":
            self._in_head = True
        elif tag == "body":
            self.done = True
        if not self._in_head or self.done:
            return
        if tag == "title":
            self._in_title = True
        elif tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a.get("content", "")
        elif tag == "link" and "rel" in a:
            self.links[a["rel"]] = a.get("href", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
            self.done = True
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.done:
            self.title += data


def read_head(html: str) -> HeadReader:
    head = HeadReader()
    head.feed(html.split("</head>")[0] + "</head>")  # a bot stops reading at the body
    return head


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return replace(engine_settings(tmp_path), organisation=ORG)


@pytest.fixture
async def client(pool: asyncpg.Pool, settings: Settings, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(create_app(settings, pool))


@pytest.fixture
async def digest(pool: asyncpg.Pool, settings: Settings) -> tuple[int, str, dict[str, int]]:
    topic = await create_topic(pool, name="Overdose Prevention", position=0)
    extra = [
        ParsedItem(
            guid=f"clinic-{n}", link=f"{BASE}/clinic-{n}", title=f"Clinic {n} opens",
            summary_html=f"<p>Harm reduction services at clinic {n}.</p>",
            summary_text=f"Harm reduction services at clinic {n}.",
            published_at=NOW - timedelta(days=1, minutes=n),
        )
        for n in range(23)
    ] + [
        ParsedItem(
            guid="pulled", link=f"{BASE}/pulled", title="Pulled fentanyl story",
            summary_html="<p>Withdrawn.</p>", summary_text="Withdrawn fentanyl story.",
            published_at=NOW - timedelta(hours=5),
        )
    ]  # fmt: skip
    made = await sent_digest(pool, settings, topic.topic_id, extra)
    await edit_item(pool, made[2]["pulled"], hidden=True)
    return made


async def test_an_item_page_previews_well_when_shared(
    client: Client, digest: tuple[int, str, dict[str, int]]
) -> None:
    _, _, ids = digest
    response = await client.get(f"/archive/items/{ids['naloxone']}")
    assert response.status == 200
    head = read_head(await response.text())
    url = f"{BASE}/archive/items/{ids['naloxone']}"
    # The four things a preview shows: title, description, image, site name.
    assert head.meta["og:title"] == "Naloxone vending machines reach every library"
    assert head.meta["og:description"].startswith("Free naloxone kits are now in vending")
    assert "<" not in head.meta["og:description"]
    assert head.meta["og:image"] == "https://news.example.org/img/naloxone.jpg"
    assert head.meta["og:image:alt"] == "A vending machine"
    assert head.meta["og:site_name"] == ORG
    assert head.meta["og:type"] == "article"
    assert head.meta["og:url"] == url == head.links["canonical"]
    assert head.meta["description"] == head.meta["og:description"]
    assert head.meta["twitter:card"] == "summary_large_image"
    assert head.meta["twitter:image"] == head.meta["og:image"]
    assert head.title == f"Naloxone vending machines reach every library · {ORG}"
    assert "robots" not in head.meta  # meant to be found
    # An item without an image: no og:image, a plain summary card; its language says so.
    spanish = read_head(await (await client.get(f"/archive/items/{ids['sobredosis']}")).text())
    assert "og:image" not in spanish.meta and spanish.meta["twitter:card"] == "summary"
    assert spanish.meta["og:locale"] == "es_ES"
    assert spanish.meta["og:description"] == "Las muertes por sobredosis bajaron un 20 % este año."


async def test_a_digest_page_has_its_full_text_and_its_tags(
    client: Client, digest: tuple[int, str, dict[str, int]]
) -> None:
    _, slug, _ = digest
    html = await (await client.get(f"/archive/{slug}")).text()
    head = read_head(html)
    assert head.meta["og:title"] == "Weekly health news" and head.meta["og:type"] == "article"
    assert head.meta["og:description"].startswith("This week: *naloxone* in libraries")
    assert head.meta["og:image"] == "https://news.example.org/img/naloxone.jpg"
    assert head.meta["og:site_name"] == ORG
    assert head.links["canonical"] == head.meta["og:url"] == f"{BASE}/archive/{slug}"
    assert head.title == f"Weekly health news · {ORG}"
    body = html.split("</head>")[1]
    # The full text, as stored (sanitised HTML kept), not only a frame around the mail.
    assert "<p>Librarians were trained to use them.</p>" in body
    assert "Las muertes por sobredosis bajaron" in body and 'lang="es"' in body
    assert "<em>naloxone</em>" in body  # the intro, from Markdown
    assert "Pulled fentanyl story" not in body  # hidden since: left out, as in the mail
    # Every public page names the organisation, not "mailer".
    for path in ("/archive", "/subscribe", "/archive?q=naloxone", "/nope"):
        title = read_head(await (await client.get(path)).text()).title
        assert title.endswith(ORG) and "mailer" not in title, (path, title)


async def test_the_atom_feed_carries_the_full_text(
    client: Client, digest: tuple[int, str, dict[str, int]]
) -> None:
    _, slug, ids = digest
    response = await client.get("/archive.atom")
    assert response.content_type == "application/atom+xml"
    feed = feedparser.parse(await response.read())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == f"{ORG} digests and alerts"
    (entry,) = feed.entries
    assert entry.link == f"{BASE}/archive/{slug}" and entry.title == "Weekly health news"
    assert entry.summary.startswith("This week: *naloxone*")
    content = entry.content[0]
    assert content.type == "text/html"
    assert "<strong>naloxone</strong>" in content.value
    assert "Librarians were trained to use them." in content.value
    assert f"{BASE}/archive/items/{ids['naloxone']}" in content.value
    assert "Las muertes por sobredosis" in content.value
    assert "Pulled fentanyl story" not in content.value


async def test_sitemap_and_robots(
    client: Client, pool: asyncpg.Pool, digest: tuple[int, str, dict[str, int]]
) -> None:
    _, slug, ids = digest
    response = await client.get("/sitemap.xml")
    assert response.status == 200 and response.content_type == "application/xml"
    root = ET.fromstring(await response.read())  # noqa: S314 -- our own response
    assert root.tag == f"{SITEMAP}urlset"
    urls: dict[str, str | None] = {}
    for url in root:
        assert url.tag == f"{SITEMAP}url"
        assert {child.tag for child in url} <= {f"{SITEMAP}loc", f"{SITEMAP}lastmod"}
        loc = url.findtext(f"{SITEMAP}loc")
        assert loc and loc.startswith(f"{BASE}/") and len(loc) < 2048
        lastmod = url.findtext(f"{SITEMAP}lastmod")
        if lastmod is not None:
            datetime.fromisoformat(lastmod)  # W3C datetime
        urls[loc] = lastmod
    assert len(urls) <= 50_000
    assert f"{BASE}/archive" in urls and urls[f"{BASE}/archive/{slug}"]
    item_url = f"{BASE}/archive/items/{ids['naloxone']}"
    assert urls[item_url]
    unsent = await pool.fetchval(
        "INSERT INTO items (title, published_at, content_hash) VALUES ('Draft', now(), '\\x00') "
        "RETURNING item_id"
    )
    assert f"{BASE}/archive/items/{unsent}" not in urls  # never sent: no public page
    assert not any("/preferences/" in u or "/console" in u for u in urls)

    robots = await (await client.get("/robots.txt")).text()
    assert f"Sitemap: {BASE}/sitemap.xml" in robots.splitlines()
    for private in ("/preferences/", "/console", "/confirm/", "/unsubscribe/", "/dev/"):
        assert f"Disallow: {private}" in robots.splitlines()
    # Pages reached by links in mail say noindex too; the archive does not.
    new_link = read_head(await (await client.get("/new-link")).text())
    assert new_link.meta["robots"] == "noindex"
    assert "robots" not in read_head(await (await client.get("/archive")).text()).meta


async def _search(client: Client, query: str, page: int = 1) -> tuple[int, str]:
    response = await client.get("/archive", params={"q": query, "page": str(page)})
    return response.status, await response.text()


async def test_the_archive_is_searchable_in_english_and_spanish(
    client: Client, digest: tuple[int, str, dict[str, int]]
) -> None:
    _, slug, ids = digest
    # English stemming: "machine" finds "machines"; Spanish: "muerte" finds "muertes".
    status, html = await _search(client, "vending machine")
    assert status == 200 and f"/archive/items/{ids['naloxone']}" in html
    assert f"/archive/items/{ids['sobredosis']}" not in html
    _, html = await _search(client, "muerte")
    assert f"/archive/items/{ids['sobredosis']}" in html
    # A digest by the words of its subject.
    _, html = await _search(client, "weekly health")
    assert f'href="/archive/{slug}"' in html
    # Hidden items are not found; nothing found says so plainly.
    _, html = await _search(client, "fentanyl")
    assert "Pulled fentanyl story" not in html and "Nothing in the archive matches" in html
    _, html = await _search(client, "zzyzx")
    assert "Nothing in the archive matches “zzyzx”" in html
    # Paging: 23 clinic items, 20 a page.
    _, first = await _search(client, "harm reduction")
    assert first.count("Clinic ") == 20 and 'rel="next"' in first and 'rel="prev"' not in first
    _, second = await _search(client, "harm reduction", 2)
    assert second.count("Clinic ") == 3 and 'rel="prev"' in second and 'rel="next"' not in second
    # Bounds: the query's length and the page number, each a precise 400.
    status, html = await _search(client, "a" * 201)
    assert status == 400 and "at most 200 characters" in html
    for page in ("0", "51", "x", "²"):
        response = await client.get("/archive", params={"q": "clinic", "page": page})
        assert response.status == 400
    # Search operators from people are words, not SQL or tsquery syntax errors.
    for odd in ("'", "!&|", '"unclosed', "or -", "\\"):
        assert (await _search(client, odd))[0] == 200


async def test_search_uses_the_gin_indexes(pool: asyncpg.Pool) -> None:
    """The queries call the indexed expressions exactly, so the planner can use them."""
    from mailer.editorial.archive import Q

    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + Q["search"], "x", 21, 0))
    assert "items_search_idx" in plan and "mailings_search_idx" in plan
