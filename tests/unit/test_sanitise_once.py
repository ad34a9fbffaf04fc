"""The one-pass shortcuts give what the passes they replace gave: plain words without a second
nh3 call, the text of sanitised HTML without parsing it again, images found without
html.parser."""

import html
import re
from html.parser import HTMLParser

import nh3
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.content import sanitise
from mailer.content.sanitise import _fit_images, sanitise_html, text_of_sanitised, to_text
from tests.support.feed_corpus import FEEDS, generated
from tests.unit.test_sanitise import VECTORS

PIECES = [
    "<p>", "</p>", "<div>", "</div>", "<b>", "</b>", "<i>", "<a href='/x?a=1&b=2'>", "</a>",
    "<img src='/i.png' width='800' alt='A &gt; B \"q\"'>", "<img src=x width=1>", "<img alt=y>",
    "<table>", "<tr>", "<td>", "</td>", "</table>", "<thead>", "<pre>\n", "</pre>", "<br>",
    "<ul><li>", "<h2>", "<script>x</script>", "<style>p{}</style>", "<!-- c -->", "&amp;",
    "&nbsp;", "&lt;img&gt;", "&#147;", " ", "\n", "word", "Caf\u00e9", "<p title='<img>'>",
    "<img src=\"https://x.example.org/a.png\" title='<img src=y>' width=\"1000\">", "<",
    ">", "&", "\x00", "\u00a0", "<figure><figcaption>", "<code>", "</sub>", "<sup>",
]  # fmt: skip
html_soup = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


OLD_SPACE = re.compile(r"\s+")  # how sanitise put words on one line before


def old_to_text(fragment: str, limit: int = 2000) -> str:
    words = html.unescape(nh3.clean(sanitise._BLOCK_TAG.sub(" ", fragment), tags=set()))
    text = OLD_SPACE.sub(" ", words).strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


class _Images(HTMLParser):
    """The html.parser reading _fit_images used before."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.found.append((self.get_starttag_text() or "", dict(attrs)))

    handle_startendtag = handle_starttag


def old_images(clean: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Images()
    parser.feed(clean)
    parser.close()
    return parser.found


def new_images(clean: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (t.group(0), {k: html.unescape(v) for k, v in sanitise._ATTRIBUTE.findall(t.group(2))})
        for t in sanitise._START_TAG.finditer(clean)
        if t.group(1) == "img"
    ]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_plain_words_skip_nh3_and_come_out_the_same(text: str) -> None:
    assert to_text(text) == old_to_text(text)
    assert to_text(text, 10) == old_to_text(text, 10)


@settings(max_examples=400, deadline=None)
@given(html_soup)
def test_text_and_images_of_sanitised_html_are_what_a_second_parse_gives(fragment: str) -> None:
    unsized = nh3.clean(fragment, tags=sanitise._TAGS, attributes=sanitise._ATTRIBUTES)
    assert new_images(unsized) == old_images(unsized)
    clean = sanitise_html(fragment, "https://news.example.org/a/b")
    assert text_of_sanitised(clean) == old_to_text(clean)
    assert text_of_sanitised(clean, 12) == old_to_text(clean, 12)


def test_the_same_on_the_feed_corpus_and_the_attack_vectors() -> None:
    import feedparser

    bodies = [body for _, body in FEEDS.values()] + [generated(s) for s in range(60)]
    fragments = list(VECTORS)
    for body in bodies:
        for entry in feedparser.parse(body).entries:
            fragments += [entry.get("summary", ""), entry.get("title", "")]
            fragments += [c.get("value", "") for c in entry.get("content", [])]
    for fragment in fragments:
        clean = sanitise_html(fragment, "https://news.example.org/a/b")
        assert text_of_sanitised(clean) == old_to_text(clean), fragment
        assert to_text(fragment) == old_to_text(fragment), fragment
        assert _fit_images(clean) == clean  # sanitise_html's output has nothing left to fit
        assert new_images(clean) == old_images(clean), fragment
