"""Feed HTML made safe for e-mail and pages (nh3, the Ammonia sanitiser), and plain text."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import nh3

# Small on purpose: what a news summary needs and what mail clients render.
_TAGS = {
    "p", "br", "a", "strong", "b", "em", "i", "u", "ul", "ol", "li", "blockquote",
    "img", "h3", "h4", "figure", "figcaption", "code", "pre", "sup", "sub",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height", "title"}}
_SCHEMES = {"http", "https", "mailto"}
_SPACE = re.compile(r"\s+")


def sanitise_html(fragment: str, base_url: str | None = None) -> str:
    """Only the allowlisted tags and attributes survive; scripts, styles, iframes, event
    handlers and javascript: links never do; relative links become absolute."""

    def absolute(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src"):
            resolved = urljoin(base_url, value.strip()) if base_url else value.strip()
            if urlsplit(resolved).scheme.lower() not in _SCHEMES:
                return None
            return resolved
        return value

    return nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        attribute_filter=absolute,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|blockquote|figure|figcaption|tr|td|th|table|pre)\b[^>]*>",
    re.IGNORECASE,
)


def to_text(fragment: str, limit: int = 2000) -> str:
    """The words of an HTML fragment on one line (for plain-text mail and search); block
    boundaries become spaces so that paragraphs do not run into each other."""
    words = html.unescape(nh3.clean(_BLOCK_TAG.sub(" ", fragment), tags=set()))
    text = _SPACE.sub(" ", words).strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def clean_line(value: str | None, limit: int) -> str | None:
    """A title, author or alt text: plain text, one line, bounded."""
    if not value:
        return None
    text = to_text(value, limit)
    return text or None
