"""What machines read of the archive: the Atom feed in full text, sitemap.xml, robots.txt."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from aiohttp import web

from mailer.editorial import archive
from mailer.web import keys
from mailer.web.sharing import describe

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
FEED_ENTRIES = 50

# Pages reached from links in mail or for editors: never to be crawled (the pages also say
# noindex, for crawlers that arrive by a link anyway).
PRIVATE_PATHS = (
    "/api/",
    "/confirm/",
    "/console",
    "/dev/",
    "/keep/",
    "/new-link",
    "/preferences/",
    "/subscribe/thanks",
    "/unsubscribe/",
    "/webhooks/",
)


async def archive_atom(request: web.Request) -> web.Response:
    """The newest sent mailings, each entry with its full text (intro and items)."""
    settings = request.app[keys.settings_key]
    pool = request.app[keys.pool_key]
    rows = await archive.list_archive(pool, FEED_ENTRIES)
    items = await archive.items_of_mailings(pool, [r["mailing_id"] for r in rows])
    fulltext = request.app[keys.pages_key].get_template("web/_fulltext.html")
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"{settings.organisation} digests and alerts"
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"{settings.base_url}/archive"
    ET.SubElement(feed, f"{{{ATOM}}}link", href=f"{settings.base_url}/archive")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{settings.base_url}/archive.atom")
    newest = rows[0]["started_at"] if rows else datetime.now(UTC)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = newest.isoformat()
    for row in rows:
        url = f"{settings.base_url}/archive/{row['slug']}"
        carried = items.get(row["mailing_id"], [])
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = row["subject"]
        ET.SubElement(entry, f"{{{ATOM}}}id").text = url
        ET.SubElement(entry, f"{{{ATOM}}}link", href=url)
        ET.SubElement(entry, f"{{{ATOM}}}published").text = row["started_at"].isoformat()
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = row["started_at"].isoformat()
        author = ET.SubElement(entry, f"{{{ATOM}}}author")
        ET.SubElement(author, f"{{{ATOM}}}name").text = settings.organisation
        summary = row["intro_text"] or " · ".join(i["title"] for i in carried)
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = describe(summary or row["subject"])
        html = fulltext.render(
            base=settings.base_url, intro_html=row["intro_html"] or "", items=carried
        )
        ET.SubElement(entry, f"{{{ATOM}}}content", type="html").text = html
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8")


def _lastmod(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00") if value else None


async def sitemap(request: web.Request) -> web.Response:
    """sitemaps.org 0.9: the archive, each sent mailing's page and each sent item's page."""
    base = request.app[keys.settings_key].base_url
    mailings, items = await archive.sitemap_entries(request.app[keys.pool_key])
    ET.register_namespace("", SITEMAP)
    urlset = ET.Element(f"{{{SITEMAP}}}urlset")
    newest = mailings[0]["lastmod"] if mailings else None
    entries: list[tuple[str, datetime | None]] = [(f"{base}/archive", newest)]
    entries += [(f"{base}/archive/{m['slug']}", m["lastmod"]) for m in mailings]
    entries += [(f"{base}/archive/items/{i['item_id']}", i["lastmod"]) for i in items]
    entries.append((f"{base}/subscribe", None))
    for loc, changed in entries:
        url = ET.SubElement(urlset, f"{{{SITEMAP}}}url")
        ET.SubElement(url, f"{{{SITEMAP}}}loc").text = loc
        stamp = _lastmod(changed)
        if stamp:
            ET.SubElement(url, f"{{{SITEMAP}}}lastmod").text = stamp
    body = ET.tostring(urlset, encoding="utf-8", xml_declaration=True)
    return web.Response(body=body, content_type="application/xml", charset="utf-8")


async def robots(request: web.Request) -> web.Response:
    base = request.app[keys.settings_key].base_url
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in PRIVATE_PATHS)]
    lines += ["Allow: /", "", f"Sitemap: {base}/sitemap.xml", ""]
    return web.Response(text="\n".join(lines), content_type="text/plain")
