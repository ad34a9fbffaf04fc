"""Feed HTML made safe for e-mail and pages (nh3, the Ammonia sanitiser), and plain text."""

from __future__ import annotations

import html
import re
import threading
from urllib.parse import urljoin, urlsplit

import nh3

from mailer.numbers import whole_number

# Small on purpose: what a news summary needs and what mail clients render.
# Block elements are kept (without attributes) rather than dropped: dropping <div>, <h2> or
# a table cell glues its words to the next block's ("Vaccines workPhotos").
_TAGS = {
    "p", "br", "a", "strong", "b", "em", "i", "u", "ul", "ol", "li", "blockquote",
    "img", "h3", "h4", "figure", "figcaption", "code", "pre", "sup", "sub",
    "div", "h1", "h2", "h5", "h6", "hr", "dl", "dt", "dd",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height", "title"}}
_SCHEMES = {"http", "https", "mailto"}


# The base that relative links in the fragment being cleaned resolve against, per thread: one
# Cleaner (built once; building it per call was a tenth of the poll's sanitising) serves every
# call, and its attribute filter is called back in the thread that called clean().
_BASE = threading.local()


def _absolute(tag: str, attribute: str, value: str) -> str | None:
    if attribute in ("href", "src"):
        base_url = _BASE.url
        url = value.strip()
        if not base_url:
            resolved = url
        elif (known := _resolved_as_urljoin_would(base_url, url)) is not None:
            return known
        else:
            resolved = urljoin(base_url, url)
        if urlsplit(resolved).scheme.lower() not in _SCHEMES:
            return None
        return resolved
    return value


def _resolved_as_urljoin_would(base_url: str, url: str) -> str | None:
    """For the two kinds of link feeds are full of, what urljoin(base_url, url) gives, and
    that it passes the scheme check, without urljoin's parsing and rebuilding (resolving
    links was half of a poll's sanitising); None for anything else, which urljoin resolves.
    A path from the root ("/a/b?c#d": no "//", dot segment, ";" parameters, empty query or
    fragment, or the characters urlsplit removes) under an http(s) base with a host is that
    origin + url; a mailto: link (no "//" after the colon) is itself.
    tests/unit/test_ingest_shortcuts.py compares both with urljoin."""
    if "\t" in url or "\n" in url or "\r" in url:
        return None
    if url[:1] == "/" and url[1:2] != "/":
        base = urlsplit(base_url)  # urljoin's own first step: raises as urljoin would
        if base.scheme not in ("http", "https") or not base.netloc:
            return None
        rest, hash_mark, fragment = url.partition("#")
        path, question_mark, query = rest.partition("?")
        if (
            ";" in path
            or "/." in path
            or (hash_mark and not fragment)
            or (question_mark and not query)
        ):
            return None
        return f"{base.scheme}://{base.netloc}{url}"
    if url.startswith("mailto:") and url[7:9] != "//":
        urlsplit(base_url)  # as above
        return url
    return None


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    url_schemes=_SCHEMES,
    attribute_filter=_absolute,
    link_rel="noopener noreferrer",
    strip_comments=True,
)
_TEXT_CLEANER = nh3.Cleaner(tags=set())


def sanitise_html(fragment: str, base_url: str | None = None) -> str:
    """Only the allowlisted tags and attributes survive; scripts, styles, iframes, event
    handlers and javascript: links never do; relative links become absolute."""
    _BASE.url = base_url
    try:
        clean = _CLEANER.clean(fragment)
    finally:
        _BASE.url = None
    return _fit_images(clean).strip()


MAX_IMAGE_WIDTH = 552  # the digest's content column, in pixels


# nh3 (html5ever) writes every start tag as <name> plus ` name="value"` per attribute, with `"`
# escaped inside values and no raw "<" in text: read left to right, this finds each start tag
# whole, never one written inside another's attribute value.
_START_TAG = re.compile(r'<([a-z][a-z0-9]*)((?: [a-z][a-z0-9-]*="[^"]*")*)>')
_ATTRIBUTE = re.compile(r' ([a-z][a-z0-9-]*)="([^"]*)"')
_ANY_TAG = re.compile(r'</?[a-z][a-z0-9]*(?: [a-z][a-z0-9-]*="[^"]*")*/?>')


def _size(value: str | None) -> int | None:
    digits = (value or "").strip().removesuffix("px")
    return whole_number(digits, max_digits=6)


def _fit_images(clean: str) -> str:
    """Images as mail shows them: none without a source (a broken-image box, after an unsafe
    src was removed), no tracking pixels (a third party would learn who read the mail and
    when), and none wider than the column (width and height go; the template scales it)."""
    if "<img" not in clean:
        return clean
    found = [
        (tag.group(0), {k: html.unescape(v) for k, v in _ATTRIBUTE.findall(tag.group(2))})
        for tag in _START_TAG.finditer(clean)
        if tag.group(1) == "img"
    ]
    for text, attrs in found:
        width, height = _size(attrs.get("width")), _size(attrs.get("height"))
        if not attrs.get("src") or any(d is not None and d <= 2 for d in (width, height)):
            clean = clean.replace(text, "")
        elif width is not None and width > MAX_IMAGE_WIDTH:
            kept = "".join(
                f' {k}="{html.escape(v or "", quote=True)}"'
                for k, v in attrs.items()
                if k not in ("width", "height")
            )
            clean = clean.replace(text, f"<img{kept}>")
    return clean


_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|hr|li|ul|ol|dl|dt|dd|h[1-6]|blockquote|figure|figcaption|caption"
    r"|tr|td|th|table|pre)\b[^>]*>",
    re.IGNORECASE,
)


# What makes a string more than plain words for nh3: markup, references, and the characters
# the HTML parser drops or reports (NUL, other controls, surrogates, non-characters).
_NOT_PLAIN = re.compile("[<&\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def to_text(fragment: str, limit: int = 2000) -> str:
    """The words of an HTML fragment on one line (for plain-text mail and search); block
    boundaries become spaces so that paragraphs do not run into each other."""
    if _NOT_PLAIN.search(fragment):
        words = html.unescape(_TEXT_CLEANER.clean(_BLOCK_TAG.sub(" ", fragment)))
    else:
        words = fragment  # nh3 would only escape ">" and no-break spaces, and unescape them
    return _one_line(words, limit)


def text_of_sanitised(clean: str, limit: int = 2000) -> str:
    """to_text() of sanitise_html()'s own output, without parsing it a second time: that
    output is html5ever's serialisation (tags whole, text escaped), so dropping the tags and
    unescaping gives the same words (tests/unit/test_sanitise.py compares the two)."""
    return _one_line(html.unescape(_ANY_TAG.sub("", _BLOCK_TAG.sub(" ", clean))), limit)


def _one_line(words: str, limit: int) -> str:
    text = " ".join(words.split())  # runs of whitespace as one space, none at the ends
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def clean_line(value: str | None, limit: int) -> str | None:
    """A title, author or alt text: plain text, one line, bounded."""
    if not value:
        return None
    text = to_text(value, limit)
    return text or None
