"""Feeds into items: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed 1.x by hand
(it is plain JSON). Whatever can be read is kept; what went wrong becomes a warning."""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser

from mailer.content import fastfeed
from mailer.content.sanitise import clean_line, sanitise_html, text_of_sanitised, to_text

MAX_ITEMS = 10_000
CHUNK = 1_000  # items made at a time by open_feed()
_UTF8_BOM = b"\xef\xbb\xbf"
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_TRACKING = ("utm_", "mc_", "_hs")
_TRACKING_NAMES = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "ref_src", "_ga"}


class NotAFeed(ValueError):
    """The body is no feed at all (an HTML page, an empty answer, garbage)."""


@dataclass(frozen=True)
class ParsedItem:
    guid: str | None
    link: str | None
    title: str
    summary_html: str
    summary_text: str
    image_url: str | None = None
    image_alt: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    categories: tuple[str, ...] = ()
    language: str | None = None


@dataclass
class ParsedFeed:
    title: str | None
    items: list[ParsedItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def canonical_link(url: str | None, base: str | None = None) -> str | None:
    """Absolute http(s) URL without fragment or tracking parameters (utm_*, fbclid, ...)."""
    if not url:
        return None
    absolute = urljoin(base or "", url.strip())
    parts = urlsplit(absolute)
    hostname = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        return None
    query = ""
    if parts.query:  # parse_qsl("") is [], and urlencode([]) is ""
        query = urlencode(
            [
                (k, v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if not k.lower().startswith(_TRACKING) and k.lower() not in _TRACKING_NAMES
            ]
        )
    netloc = hostname.lower() + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))


def _sane_date(moment: datetime | None, warnings: list[str]) -> datetime | None:
    if moment is None:
        return None
    if moment > datetime.now(UTC) + timedelta(days=1):
        warnings.append(f"a date in the future ({moment:%Y-%m-%d}) was replaced by first-seen")
        return None
    if moment.year < 1990:
        warnings.append(f"an implausible date ({moment:%Y-%m-%d}) was replaced by first-seen")
        return None
    return moment


def _from_struct(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return datetime.max.replace(tzinfo=UTC)


def parse_iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_feed(body: bytes, content_type: str, base_url: str) -> ParsedFeed:
    """Items of a feed body; NotAFeed when nothing in it is a feed."""
    feed, chunks = open_feed(body, content_type, base_url)
    for chunk in chunks:
        feed.items.extend(chunk)
    return feed


def open_feed(
    body: bytes, content_type: str, base_url: str, chunk: int = CHUNK
) -> tuple[ParsedFeed, Iterator[list[ParsedItem]]]:
    """The feed read (NotAFeed here) and its items to come, made and sanitised `chunk` at a
    time as they are asked for (a poll stores one chunk while the next is made); warnings are
    added to the feed as they arise. parse_feed() is this, all at once."""
    stripped = body.removeprefix(_UTF8_BOM).lstrip()
    if not stripped:
        raise NotAFeed("the server sent an empty answer, not a feed")
    if content_type in ("application/feed+json", "application/json") or stripped[:1] == b"{":
        feed = _parse_json_feed(body, base_url)
        items, feed.items = feed.items, []
        return feed, iter([items] if items else [])
    return _open_xml_feed(body, base_url, chunk=chunk)


_DOCTYPE = re.compile(rb"<!doctype", re.IGNORECASE)
_ENTITY = re.compile(rb"<!entity", re.IGNORECASE)


def _declares_entities(body: bytes) -> bool:
    """Whether "<!entity" follows "<!doctype" (any case) in an XML body: UTF-16 and UTF-32 read
    by their byte-order marks, anything else byte for byte (every encoding a feed may declare
    spells `<!DOCTYPE` in ASCII; ASCII-only case folding of the bytes finds what lower() of
    their Latin-1 reading found, without copying the body twice)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            text = body.decode(encoding, errors="replace").lower()
            start = text.find("<!doctype")
            return start >= 0 and "<!entity" in text[start:]
    doctype = _DOCTYPE.search(body)
    return doctype is not None and _ENTITY.search(body, doctype.start()) is not None


def refuse_entity_declarations(body: bytes) -> None:
    """NotAFeed for a DOCTYPE whose internal subset declares entities: the way to a billion
    laughs (entities expanding into gigabytes) and to external entities (a file or URL read
    into the feed). No feed needs one; RSS 0.91's public DOCTYPE, which declares none, is fine."""
    # Anywhere after the DOCTYPE, not only up to its first "]>": a comment can hide one.
    if _declares_entities(body):
        raise NotAFeed(
            "the feed declares entities in its DOCTYPE (an entity-expansion or "
            "external-entity attack, or an unusual feed); refused"
        )


def _parse_xml_feed(body: bytes, base_url: str, *, fast: bool = True) -> ParsedFeed:
    feed, chunks = _open_xml_feed(body, base_url, fast=fast)
    for chunk in chunks:
        feed.items.extend(chunk)
    return feed


def _open_xml_feed(
    body: bytes, base_url: str, *, fast: bool = True, chunk: int = CHUNK
) -> tuple[ParsedFeed, Iterator[list[ParsedItem]]]:
    """lxml's fast path for the well-formed RSS 2.0 and Atom 1.0 it fully understands (the
    same fields as feedparser's, tests/unit/test_fastfeed.py), feedparser for the rest."""
    refuse_entity_declarations(body)
    read = fastfeed.read(body) if fast else None
    if read is not None:
        fields, entries = read
        feed = ParsedFeed(title=clean_line(fields.get("title"), 200))
        language = clean_line(fields.get("language"), 35)
        return feed, _items(feed, entries, language, base_url, chunk)
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    feed = ParsedFeed(title=clean_line(parsed.feed.get("title"), 200))
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "no feed elements found"
        raise NotAFeed(f"not a readable feed ({reason})")
    if parsed.bozo:
        feed.warnings.append(
            f"the feed is malformed; kept what could be read ({parsed.bozo_exception})"
        )
    language = clean_line(parsed.feed.get("language"), 35)
    return feed, _items(feed, parsed.entries, language, base_url, chunk)


def _items(
    feed: ParsedFeed, entries: Any, language: str | None, base_url: str, chunk: int
) -> Iterator[list[ParsedItem]]:
    kept = entries[:MAX_ITEMS]
    for start in range(0, len(kept), chunk):
        made = (
            _xml_item(e, base_url, language, feed.warnings) for e in kept[start : start + chunk]
        )
        yield [item for item in made if item is not None]
    if len(entries) > MAX_ITEMS:
        feed.warnings.append(f"only the first {MAX_ITEMS} items were read")


def _xml_item(
    entry: Any, base_url: str, language: str | None, warnings: list[str]
) -> ParsedItem | None:
    link = canonical_link(entry.get("link"), base_url)
    title = clean_line(entry.get("title"), 300)
    content = entry.get("content") or []
    raw_html = content[0].get("value", "") if content else entry.get("summary", "")
    if not title and not link:
        warnings.append("an item with neither title nor link was skipped")
        return None
    summary_html = sanitise_html(raw_html or "", link or base_url)
    image_url, image_alt = _xml_image(entry, base_url)
    published = _from_struct(entry.get("published_parsed") or entry.get("updated_parsed"))
    guid = clean_line(entry.get("id"), 500)
    if guid is None and link is None:
        # Nothing else names it: without this, every change to the feed stored it again.
        guid = f"title:{title}"[:500]
    return ParsedItem(
        guid=guid,
        link=link,
        title=title or link or "(untitled)",
        summary_html=summary_html,
        summary_text=text_of_sanitised(summary_html),
        image_url=image_url,
        image_alt=image_alt,
        author=clean_line(entry.get("author"), 200),
        published_at=_sane_date(published, warnings),
        categories=tuple(
            dict.fromkeys(
                t for tag in entry.get("tags", []) if (t := clean_line(tag.get("term"), 100))
            )
        ),
        language=clean_line(entry.get("language"), 35) or language,
    )


def _xml_image(entry: Any, base_url: str) -> tuple[str | None, str | None]:
    candidates = [
        m.get("url") for m in entry.get("media_content", []) if m.get("medium", "image") == "image"
    ]
    candidates += [m.get("url") for m in entry.get("media_thumbnail", [])]
    candidates += [
        e.get("href")
        for e in entry.get("enclosures", [])
        if str(e.get("type", "")).startswith("image/")
    ]
    for candidate in candidates:
        url = canonical_link(candidate, base_url)
        if url:
            alt = entry.get("media_description") or entry.get("title")
            return url, clean_line(alt, 300)
    return None, None


def _parse_json_feed(body: bytes, base_url: str) -> ParsedFeed:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotAFeed(f"not a readable JSON Feed ({exc})") from exc
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        "https://jsonfeed.org/version/1"
    ):
        raise NotAFeed("not a JSON Feed (no jsonfeed.org version)")
    feed = ParsedFeed(
        title=clean_line(data.get("title") if isinstance(data.get("title"), str) else None, 200)
    )
    items = data.get("items")
    if not isinstance(items, list):
        raise NotAFeed("a JSON Feed without an items list")
    base = _str(data, "home_page_url") or base_url
    language = _str(data, "language")
    for raw in items[:MAX_ITEMS]:
        if not isinstance(raw, dict):
            feed.warnings.append("an item that is not an object was skipped")
            continue
        item = _json_item(raw, base, language, feed.warnings)
        if item is not None:
            feed.items.append(item)
    if len(items) > MAX_ITEMS:
        feed.warnings.append(f"only the first {MAX_ITEMS} items were read")
    return feed


def _str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _json_item(
    raw: dict[str, Any], base: str, language: str | None, warnings: list[str]
) -> ParsedItem | None:
    link = canonical_link(_str(raw, "url") or _str(raw, "external_url"), base)
    title = clean_line(_str(raw, "title"), 300)
    identifier = raw.get("id")
    guid = str(identifier)[:500] if isinstance(identifier, (str, int)) else None
    if not title and not link:
        warnings.append("an item with neither title nor link was skipped")
        return None
    content = _str(raw, "content_html") or _str(raw, "summary") or ""
    if not content and _str(raw, "content_text"):
        content = "<p>" + (_str(raw, "content_text") or "").replace("<", "&lt;") + "</p>"
    summary_html = sanitise_html(content, link or base)
    authors = raw.get("authors")
    if not isinstance(authors, list):
        authors = [raw.get("author")]
    author = next(
        (_str(a, "name") for a in authors if isinstance(a, dict) and _str(a, "name")), None
    )
    tags = raw.get("tags")
    if not isinstance(tags, list):
        tags = []
    published = parse_iso_date(raw.get("date_published")) or parse_iso_date(
        raw.get("date_modified")
    )
    image = canonical_link(_str(raw, "image") or _str(raw, "banner_image"), base)
    return ParsedItem(
        guid=guid,
        link=link,
        title=title or link or "(untitled)",
        summary_html=summary_html,
        summary_text=to_text(summary_html),
        image_url=image,
        image_alt=title if image else None,
        author=clean_line(author, 200),
        published_at=_sane_date(published, warnings),
        categories=tuple(
            dict.fromkeys(t for tag in tags if isinstance(tag, str) and (t := clean_line(tag, 100)))
        ),
        language=clean_line(_str(raw, "language"), 35) or language,
    )
