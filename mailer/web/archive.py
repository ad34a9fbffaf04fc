"""The public archive of sent digests (web versions without personal links), with Atom."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from mailer.delivery import template_versions
from mailer.editorial import archive
from mailer.editorial.render_parts import render_parts
from mailer.errors import NotFound
from mailer.web import keys
from mailer.web.middleware import MAIL_PREVIEW_CSP
from mailer.web.public import render

ATOM = "http://www.w3.org/2005/Atom"


async def archive_page(request: web.Request) -> web.Response:
    rows = await archive.list_archive(request.app[keys.pool_key])
    return render(request, "web/archive.html", title="Archive", digests=rows)


# Archive slugs: a series' slug or "alert", the date and a few hex digits.
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,120}")


async def _archived(request: web.Request) -> asyncpg.Record:
    slug = request.match_info["slug"]
    # Checked first: PostgreSQL refuses text with a NUL byte (a 500), and no slug has one.
    row = None
    if SLUG.fullmatch(slug):
        row = await archive.archived_mailing(request.app[keys.pool_key], slug)
    if row is None:
        raise NotFound("No sent digest has this address.")
    return row


async def archived_digest(request: web.Request) -> web.Response:
    """The page around the digest; the digest itself is mail HTML, shown in a sandbox."""
    row = await _archived(request)
    corrections = await archive.corrections_of_mailing(
        request.app[keys.pool_key], row["mailing_id"]
    )
    return render(
        request,
        "web/archived_digest.html",
        title=row["subject"],
        digest=row,
        corrections=corrections,
    )


async def archived_digest_body(request: web.Request) -> web.Response:
    row = await _archived(request)
    saved = await template_versions.in_force(request.app[keys.pool_key])
    html, _ = render_parts(
        request.app[keys.settings_key], row["content"], kind=row["kind"], saved=saved.sources
    )
    response = web.Response(text=html, content_type="text/html")
    response.headers["Content-Security-Policy"] = MAIL_PREVIEW_CSP
    return response


async def archive_atom(request: web.Request) -> web.Response:
    settings = request.app[keys.settings_key]
    rows = await archive.list_archive(request.app[keys.pool_key], 50)
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
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = row["subject"]
        ET.SubElement(entry, f"{{{ATOM}}}id").text = url
        ET.SubElement(entry, f"{{{ATOM}}}link", href=url)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = row["started_at"].isoformat()
        author = ET.SubElement(entry, f"{{{ATOM}}}author")
        ET.SubElement(author, f"{{{ATOM}}}name").text = settings.organisation
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8")
