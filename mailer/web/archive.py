"""The public archive of sent digests (web versions without personal links): the list with
its search box, each digest's page in full text, and the digest as mailed."""

from __future__ import annotations

import re

import asyncpg
from aiohttp import web

from mailer.delivery import template_versions
from mailer.editorial import archive
from mailer.editorial.render_parts import render_parts
from mailer.errors import InvalidInput, NotFound
from mailer.i18n import N_
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.middleware import MAIL_PREVIEW_CSP
from mailer.web.public import render
from mailer.web.sharing import describe, page_meta

PER_PAGE = 20


def _search_terms(request: web.Request) -> tuple[str, int]:
    """The words (bounded) and the page number (1 when absent) of ?q=&page=."""
    query = " ".join(request.query.get("q", "").split())
    if "\x00" in query:
        raise InvalidInput("The search has a character it cannot contain.", {"q": "invalid"})
    if len(query) > archive.MAX_QUERY_CHARS:
        raise InvalidInput(
            f"Search for at most {archive.MAX_QUERY_CHARS} characters.", {"q": "too long"}
        )
    page_text = request.query.get("page", "1")
    page = whole_number(page_text, max_digits=3)
    if page is None or not 1 <= page <= archive.MAX_PAGE:
        raise InvalidInput(f"The page is a number from 1 to {archive.MAX_PAGE}.", {"page": "?"})
    return query, page


async def archive_page(request: web.Request) -> web.Response:
    """The list of sent mailings; with ?q=, the search results instead."""
    settings = request.app[keys.settings_key]
    pool = request.app[keys.pool_key]
    query, page = _search_terms(request)
    if query:
        found = await archive.search(pool, query, page=page, per_page=PER_PAGE)
        return render(
            request, "web/archive_search.html", title=N_("Search the archive"), query=query,
            found=found,
        )  # fmt: skip
    rows = await archive.list_archive(pool)
    meta = page_meta(
        url=f"{settings.base_url}/archive",
        title=f"{settings.organisation}: archive",
        description=f"Every digest and urgent alert {settings.organisation} has sent.",
        kind="website",
    )
    return render(
        request, "web/archive.html", title=N_("Archive"), digests=rows, meta=meta,
        indexable=True,
    )  # fmt: skip


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
    """The digest's full text (its intro and items, sanitised as stored), with the
    corrections since; the mail itself is one link away."""
    settings = request.app[keys.settings_key]
    pool = request.app[keys.pool_key]
    row = await _archived(request)
    corrections = await archive.corrections_of_mailing(pool, row["mailing_id"])
    items = await archive.items_of_mailing(pool, row["mailing_id"])
    content = row["content"] or {}
    intro = content.get("intro_text") or ""
    pictured = next((i for i in items if i["image_url"]), None)
    meta = page_meta(
        url=f"{settings.base_url}/archive/{row['slug']}",
        title=row["subject"],
        description=intro or " · ".join(i["title"] for i in items) or row["subject"],
        image=pictured["image_url"] if pictured else None,
        image_alt=pictured["image_alt"] if pictured else None,
        published=row["started_at"],
    )
    return render(
        request,
        "web/archived_digest.html",
        title=row["subject"],
        digest=row,
        intro_html=content.get("intro_html") or "",
        items=items,
        corrections=corrections,
        meta=meta,
        indexable=True,
    )


async def archived_digest_body(request: web.Request) -> web.Response:
    row = await _archived(request)
    saved = await template_versions.in_force(request.app[keys.pool_key])
    html, _ = render_parts(
        request.app[keys.settings_key], row["content"], kind=row["kind"], saved=saved.sources
    )
    response = web.Response(text=html, content_type="text/html")
    response.headers["Content-Security-Policy"] = MAIL_PREVIEW_CSP
    # The same text as the page, in mail form: the page is the one to find.
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def item_description(item: asyncpg.Record) -> str:
    return describe(item["summary_text"] or item["summary_html"]) or item["title"]
