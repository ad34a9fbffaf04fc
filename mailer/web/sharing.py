"""What a link preview and a search engine read in a public page's head: a description,
Open Graph and Twitter card tags, the canonical address."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

DESCRIPTION_CHARS = 200  # previews cut near here; a search result near 160
_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class PageMeta:
    url: str
    title: str
    description: str
    type: str = "article"
    locale: str = "en_US"
    image: str | None = None
    image_alt: str | None = None
    published: str | None = None


def describe(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    """One line of plain text, cut at a word near the limit."""
    flat = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0]
    return f"{cut.rstrip(',;:.')}…"


def absolute_image(url: str | None) -> str | None:
    """An image a preview bot can fetch: http(s) only (no data: or relative addresses)."""
    if not url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


_LOCALES = {"en": "en_US", "es": "es_ES"}


def page_meta(
    *,
    url: str,
    title: str,
    description: str,
    language: str | None = None,
    image: str | None = None,
    image_alt: str | None = None,
    published: datetime | None = None,
    kind: str = "article",
) -> PageMeta:
    return PageMeta(
        url=url,
        title=title,
        description=describe(description) or title,
        type=kind,
        locale=_LOCALES.get(language or "en", "en_US"),
        image=absolute_image(image),
        image_alt=image_alt or None,
        published=published.isoformat() if published else None,
    )
