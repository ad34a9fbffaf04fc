"""A fast path for well-formed RSS 2.0 and Atom 1.0: lxml reads the document into exactly the
entry fields mailer takes from feedparser (feedparser's own rules, quirks included), or
declines (None) and feedparser reads it. It declines whatever it does not fully understand:
XML that is not well-formed, other encodings than UTF-8, DOCTYPEs, RSS 0.9x/1.0, namespaces
feedparser does not know, prefixes that remap, xml:base below the root, duplicate fields,
markup inside text fields, and any element it has no rule for."""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any
from urllib.parse import urljoin

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from lxml import etree

Entry = dict[str, Any]
ATOM = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_PREFIXES: dict[str, str] = {uri.lower(): p for uri, p in _FeedParserMixin.namespaces.items()}
_CANONICAL = set(_PREFIXES.values()) - {""}
_DECLARATION = re.compile(rb"""xmlns:([\w.-]+)\s*=\s*(["'])(.*?)\2""", re.DOTALL)
_XML_DECL = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
_URIFIXER = re.compile("^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
_C1 = re.compile("[\x80-\x9f]")  # what feedparser maps as cp1252 (feedparser.html._cp1252)
_TEXT_TYPES = {None, "text", "html", "text/plain", "text/html"}

# Per container, the feedparser names of the children this path has a rule for; anything else
# declines. Harmless ones are read by feedparser into keys mailer never looks at.
_RSS_ITEM = {
    "title", "link", "description", "guid", "pubdate", "author", "dc_creator", "category",
    "enclosure", "content_encoded", "media_content", "media_thumbnail", "comments",
    "wfw_commentrss", "slash_comments",
}  # fmt: skip
_ATOM_ENTRY = {
    "title", "link", "id", "published", "updated", "author", "category", "summary", "content",
    "media_thumbnail", "media_content", "rights",
}  # fmt: skip
_RSS_CHANNEL = {
    "title", "link", "description", "language", "copyright", "managingeditor", "webmaster",
    "pubdate", "lastbuilddate", "category", "generator", "docs", "cloud", "ttl", "image",
    "rating", "textinput", "skiphours", "skipdays", "item", "sy_updateperiod",
    "sy_updatefrequency", "sy_updatebase",
}  # fmt: skip
_ATOM_FEED = {
    "title", "link", "id", "updated", "author", "subtitle", "rights", "generator", "icon",
    "logo", "category", "entry",
}  # fmt: skip
# Containers whose children feedparser files away from the feed's title (feedparser stops
# treating them as such when another child appears, so only these).
_NESTED = {
    "image": {"url", "title", "link", "width", "height", "description"},
    "textinput": {"title", "description", "name", "link"},
    "skiphours": {"hour"},
    "skipdays": {"day"},
    "author": {"name", "email", "uri"},
}
_SINGLE = {"title", "link", "description", "guid", "id", "pubdate", "published", "updated",
           "summary", "content", "content_encoded"}  # fmt: skip
_SINGLE_IN_FEED = {"title", "language"}
_AUTHORS = {"author", "dc_creator"}


class Decline(Exception):
    """The fast path does not fully understand this document; feedparser reads it."""


def read(body: bytes) -> tuple[dict[str, Any], list[Entry]] | None:
    """(feed fields, entries) as feedparser would give them to mailer, or None (an Atom
    entry's updated_parsed only where mailer reads it: without a readable published date)."""
    try:
        return _read(body)
    except (Decline, etree.XMLSyntaxError, ValueError):
        return None


def why_not(body: bytes) -> str | None:
    """Why the fast path declines this body (None: it reads it); for tests and debugging."""
    try:
        _read(body)
    except (Decline, etree.XMLSyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _read(body: bytes) -> tuple[dict[str, Any], list[Entry]]:
    _check_bytes(body)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
        remove_pis=False, remove_comments=False, strip_cdata=True,
    )  # fmt: skip
    root = etree.fromstring(body, parser)
    if any(k != _XML_LANG and k != _XML_BASE for k in root.attrib if k != "version"):
        raise Decline("attributes on the root")
    base = _root_base(root.get(_XML_BASE))
    language = root.get(_XML_LANG)
    feed: dict[str, Any] = {"language": language.replace("_", "-")} if language else {}
    if root.tag == "rss" and root.get("version") == "2.0":
        channels = list(root)
        if len(channels) != 1 or _name(channels[0]) != "channel" or channels[0].attrib:
            raise Decline("not one plain channel")
        entries = _container(channels[0], _RSS_CHANNEL, "item", feed, base, _rss_item)
    elif root.tag == f"{{{ATOM}}}feed":
        entries = _container(root, _ATOM_FEED, "entry", feed, base, _atom_entry)
    else:
        raise Decline("neither RSS 2.0 nor Atom 1.0")
    return feed, entries


def _check_bytes(body: bytes) -> None:
    text = body.removeprefix(b"\xef\xbb\xbf")
    if not text.startswith(b"<"):
        raise Decline("a byte-order mark other than UTF-8's, or text before the root")
    declared = _XML_DECL.match(text)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise Decline("an encoding other than UTF-8")
    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:
        raise Decline("a DOCTYPE or entity declaration")
    for prefix, _, uri in _DECLARATION.findall(text):
        canonical = _PREFIXES.get(uri.decode("utf-8", "replace").lower())
        name = prefix.decode("ascii", "replace")
        if canonical is not None and name in _CANONICAL and canonical != name:
            raise Decline(f"the prefix {name} names another namespace than feedparser's")
        if b"backend.userland.com" in uri:
            raise Decline("a userland namespace")


def _root_base(value: str | None) -> str:
    if value is None:
        return ""
    base = _urljoin("", value)
    if not re.match(r"https?://[^/]", base) or _urljoin(base, base) != base:
        raise Decline("an xml:base feedparser would rewrite")
    return base


def _urljoin(base: str, uri: str) -> str:
    """feedparser.urls._urljoin: extra slashes after the scheme go, then urljoin."""
    fixed = _URIFIXER.match(uri)  # what _URIFIXER.sub(r"\1\3", uri) does, without a template
    if fixed is not None and fixed.end(2) > fixed.end(1):
        uri = fixed.group(1) + uri[fixed.end(2) :]
    try:
        return urljoin(base, uri)
    except ValueError:
        return ""


_NAMES: dict[str, str] = {}  # tag -> _name(), the same for every document


def _name(element: Any) -> str:
    """The name feedparser dispatches on: its own prefix for the namespace, lower-cased."""
    tag = element.tag
    if not isinstance(tag, str):
        raise Decline("a comment or processing instruction among elements")
    name = _NAMES.get(tag)
    if name is not None:
        return name
    if tag[0] != "{":
        name = tag.lower()
    else:
        uri, local = tag[1:].split("}", 1)
        prefix = _PREFIXES.get(uri.lower())
        if prefix is None:
            raise Decline(f"a namespace feedparser does not know ({uri})")
        name = f"{prefix}_{local.lower()}" if prefix else local.lower()
    if len(_NAMES) < 4096:
        _NAMES[tag] = name
    return name


def _lower_keys(element: Any) -> dict[str, str]:
    if len({k.lower() for k in element.attrib}) != len(element.attrib):
        raise Decline("attributes differing only in case")
    return {k.lower(): v for k, v in element.attrib.items()}


def _check_attributes(element: Any) -> None:
    for key in element.attrib:
        if key == _XML_BASE or key in ("base", "lang"):
            raise Decline("xml:base below the root")


def _text(element: Any) -> str:
    """pop(): the text, stripped, mis-decoded UTF-8 repaired, cp1252 code points mapped."""
    if len(element):
        raise Decline("markup inside a text field")
    output = (element.text or "").strip()
    if output.isascii():
        return output  # both steps below leave ASCII as it is
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        output = output.encode("iso-8859-1").decode("utf-8")
    return output.translate(_cp1252) if _C1.search(output) else output


def _checked_text(element: Any) -> str:
    kind = element.get("type")
    if (kind.lower() if kind else None) not in _TEXT_TYPES or "mode" in element.attrib:
        raise Decline("an unusual content type")
    if "src" in element.attrib:
        raise Decline("out-of-line content")
    return _text(element)


def _container(
    parent: Any, allowed: set[str], entry_name: str, feed: dict[str, Any], base: str,
    read_entry: Any,
) -> list[Entry]:  # fmt: skip
    entries: list[Entry] = []
    seen: set[str] = set()
    for child in parent:
        name = _name(child)
        if name not in allowed:
            raise Decline(f"a feed element without a rule ({name})")
        if name == entry_name:
            if child.attrib:
                raise Decline("attributes on an entry")
            entries.append(read_entry(child, base))
            continue
        _check_attributes(child)
        if name in _SINGLE_IN_FEED and name in seen:
            raise Decline(f"two {name} elements")
        seen.add(name)
        if name in _NESTED:
            for grandchild in child:
                if _name(grandchild) not in _NESTED[name] or len(grandchild):
                    raise Decline(f"an unusual {name}")
                _check_attributes(grandchild)
        elif name == "title":
            feed["title"] = _checked_text(child)
        elif name == "language":
            feed["language"] = _text(child)
        elif len(child):
            raise Decline(f"markup inside {name}")
    return entries


def _children(entry: Any, allowed: set[str], single: set[str]) -> list[tuple[str, Any]]:
    children = []
    seen: set[str] = set()
    for child in entry:
        name = _name(child)
        if name not in allowed:
            raise Decline(f"an entry element without a rule ({name})")
        _check_attributes(child)
        if name in seen and (name in single or name in _AUTHORS):
            raise Decline(f"two {name} elements")
        if name in _AUTHORS and seen & _AUTHORS:
            raise Decline("two authors")
        seen.add(name)
        if name != "author" and len(child):
            raise Decline(f"markup inside {name}")
        children.append((name, child))
    return children


def _date(element: Any) -> time.struct_time | None:
    parsed: time.struct_time | None = _parse_date(_text(element))
    return parsed


def _media(entry: Entry, name: str, element: Any) -> None:
    if element.text and element.text.strip():
        raise Decline("text inside a media element")
    attributes = _lower_keys(element)
    if any(k.startswith("{") for k in attributes):
        raise Decline("namespaced media attributes")
    if "type" in attributes:
        attributes["type"] = attributes["type"].lower()
    entry.setdefault(name, []).append(attributes)


def _rss_item(item: Any, base: str) -> Entry:
    entry: Entry = {}
    link: str | None = None
    guid_link: str | None = None
    description: str | None = None
    content: str | None = None
    tags: list[dict[str, Any]] = []
    for name, child in _children(item, _RSS_ITEM, _SINGLE):
        if name == "title":
            entry["title"] = _checked_text(child)
        elif name == "link":
            if child.attrib:
                raise Decline("a link with attributes (Atom's, in RSS)")
            value = _text(child)
            if value:
                value = _urljoin(base, value)
            value = _LINK_ENTITY.sub(r"&\g<1>", value.replace("&amp;", "&"))
            link = value
        elif name == "guid":
            is_link = _lower_keys(child).get("ispermalink", "true") == "true"
            value = _text(child)
            if value and is_link:
                value = _urljoin(base, value)
            entry["id"] = value
            guid_link = value if is_link else None
        elif name == "description":
            description = _checked_text(child)
        elif name == "content_encoded":
            content = _checked_text(child)
        elif name == "pubdate":
            entry["published_parsed"] = _date(child)
        elif name in _AUTHORS:
            entry["author"] = _text(child)
        elif name == "category":
            if "term" in child.attrib or "label" in child.attrib:
                raise Decline("an unusual category")
            term = _text(child)
            if term:
                tags.append({"term": term})
        elif name == "enclosure":
            attributes = _lower_keys(child)
            if "href" in attributes or "uri" in attributes:
                raise Decline("an unusual enclosure")
            entry.setdefault("enclosures", []).append(
                {"href": attributes.get("url"), "type": attributes.get("type", "").lower()}
            )
        elif name in ("media_content", "media_thumbnail"):
            _media(entry, name, child)
    if link is not None:
        entry["link"] = link
    elif guid_link is not None:
        entry["link"] = guid_link
    if content is not None:
        entry["content"] = [{"value": content}]
        entry["summary"] = description if description is not None else content
    elif description is not None:
        entry["summary"] = description
    entry["tags"] = tags
    return entry


def _atom_entry(element: Any, base: str) -> Entry:
    entry: Entry = {}
    link: str | None = None
    id_link: str | None = None
    summary: str | None = None
    content: str | None = None
    updated: str | None = None
    tags: list[dict[str, Any]] = []
    enclosures: list[dict[str, Any]] = []
    for name, child in _children(element, _ATOM_ENTRY, _SINGLE - {"link"}):
        if name == "title":
            entry["title"] = _checked_text(child)
        elif name == "link":
            attributes = _lower_keys(child)
            href = attributes.get("href")
            if href is None or "url" in attributes or "uri" in attributes:
                raise Decline("a link without href")
            href = _urljoin(base, href)
            rel = attributes.get("rel", "alternate").lower()
            kind = attributes.get("type", "text/html").lower()
            if rel == "alternate" and _FeedParserMixin.map_content_type(kind) in (
                "text/html",
                "application/xhtml+xml",
            ):
                link = href
            elif rel == "enclosure":
                enclosures.append({"href": href, "type": kind})
            if len(child) or (child.text and child.text.strip()):
                raise Decline("a link with content")
        elif name == "id":
            is_link = _lower_keys(child).get("ispermalink", "true") == "true"
            value = _text(child)
            if value and is_link:
                value = _urljoin(base, value)
            entry["id"] = value
            if is_link:
                id_link = value
        elif name == "summary":
            summary = _checked_text(child)
        elif name == "content":
            content = _checked_text(child)
        elif name == "published":
            entry["published_parsed"] = _date(child)
        elif name == "updated":
            updated = _text(child)
        elif name == "author":
            entry["author"] = _atom_author(child)
        elif name == "category":
            if (child.text and child.text.strip()) or "term" not in child.attrib:
                raise Decline("an unusual category")
            tags.append({"term": child.get("term")})
        elif name in ("media_content", "media_thumbnail"):
            _media(entry, name, child)
    if updated is not None and not entry.get("published_parsed"):
        # mailer reads updated only when published is missing or unreadable: parsed only then
        entry["updated_parsed"] = _parse_date(updated)
    if link is not None:
        entry["link"] = link
    elif id_link is not None:
        entry["link"] = id_link
    if content is not None:
        entry["content"] = [{"value": content}]
    if summary is not None or content is not None:
        entry["summary"] = summary if summary is not None else content
    entry["tags"] = tags
    entry["enclosures"] = enclosures
    return entry


def _atom_author(element: Any) -> str:
    parts: dict[str, str] = {}
    for child in element:
        name = _name(child)
        _check_attributes(child)
        if name in parts or len(child):
            raise Decline("an unusual author")
        parts[name] = (child.text or "").strip()
    if (element.text or "").strip():
        raise Decline("text in an author")
    person, email = parts.get("name"), parts.get("email")
    if person and email:
        return f"{person} ({email})"
    return person or email or ""
