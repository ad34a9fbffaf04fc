"""lxml's fast path reads a feed exactly as feedparser's path does, or declines."""

import warnings
from pathlib import Path

import pytest

from mailer.content import fastfeed
from mailer.content.parse import ParsedFeed, _parse_xml_feed
from tests.support.feed_corpus import FAST, FEEDS, generated

BASE = "https://news.example.org/feeds/main.xml"


def both(body: bytes) -> tuple[ParsedFeed, ParsedFeed]:
    with warnings.catch_warnings():
        # feedparser's updated_parsed -> published_parsed fallback warns when neither exists
        warnings.simplefilter("ignore", DeprecationWarning)
        return _parse_xml_feed(body, BASE), _parse_xml_feed(body, BASE, fast=False)


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_the_fast_path_reads_what_feedparser_reads_or_declines(name: str) -> None:
    expected, body = FEEDS[name]
    assert (fastfeed.read(body) is not None) == (expected == FAST), fastfeed.why_not(body)
    fast, reference = both(body)
    assert fast.title == reference.title
    assert fast.warnings == reference.warnings
    assert fast.items == reference.items
    if expected == FAST:
        assert fast.items, "a sample the fast path reads has items to compare"


def test_generated_feeds_are_read_alike_and_mostly_fast() -> None:
    read = 0
    for seed in range(400):
        body = generated(seed)
        fast, reference = both(body)
        assert fast == reference, f"seed {seed}: {body.decode()}"
        read += fastfeed.read(body) is not None
    assert read >= 150, f"the fast path read only {read} of 400 generated feeds"


def test_what_the_fast_path_reads_from_a_wordpress_feed() -> None:
    feed, _ = both(FEEDS["wordpress"][1])
    first = feed.items[0]
    assert feed.title == "Harbor County Public Health \u2013 News"
    assert first.title == "Flu shots & COVID-19 boosters: free clinics this weekend"
    assert first.link == "https://harborhealth.example.org/2026/11/19/flu-shots/"
    assert first.guid == "https://harborhealth.example.org/?p=4812"
    assert first.author == "Maria Lopez"
    assert first.categories == ("Vaccines", "Influenza")
    assert first.language == "en-US"
    assert "<script" not in first.summary_html and "onclick" not in first.summary_html
    assert 'href="https://harborhealth.example.org/clinics/"' in first.summary_html


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1/x.dtd"><rss version="2.0">'
        b"<channel><title>T</title></channel></rss>",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>&ext;</title></channel></rss>',
    ],
)
def test_the_fast_path_reads_no_dtd_and_no_entity(body: bytes) -> None:
    assert fastfeed.read(body) is None


FIXTURES = Path(__file__).parents[1] / "fixtures" / "feeds"


@pytest.mark.parametrize(
    ("name", "read_fast"),
    [("rss2.xml", True), ("atom.xml", True), ("future.xml", True), ("rss1.xml", False),
     ("malformed.xml", False), ("bomb.xml", False), ("external-entity.xml", False)],
)  # fmt: skip
def test_the_integration_fixtures_read_alike(name: str, read_fast: bool) -> None:
    body = (FIXTURES / name).read_bytes()
    assert (fastfeed.read(body) is not None) == read_fast
    if name in ("bomb.xml", "external-entity.xml"):
        return  # refused before either parser sees them (test_feed_parse.py)
    fast, reference = both(body)
    assert fast == reference


def test_an_items_hash_is_what_it_was_with_asdict() -> None:
    import hashlib
    import json
    from dataclasses import asdict

    from mailer.content.items import _hash

    for item in both(FEEDS["wordpress"][1])[0].items + both(FEEDS["odd rss"][1])[0].items:
        data = asdict(item) | {"topic_ids": [3, 1]}
        old = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).digest()
        assert _hash(item, [3, 1]) == old  # stored hashes stay valid: no mass update
