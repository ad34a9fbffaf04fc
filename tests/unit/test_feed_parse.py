"""Feed bodies a real server sends: empty answers, byte-order marks, items without ids."""

import pytest

from mailer.content.parse import NotAFeed, parse_feed

JSON_FEED = (
    b'{"version": "https://jsonfeed.org/version/1.1", "items": '
    b'[{"id": "j1", "title": "Caf\xc3\xa9 closes", "url": "https://news.example.org/j1"}]}'
)


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml", "application/json"])
def test_an_empty_answer_is_a_clear_error(content_type: str) -> None:
    with pytest.raises(NotAFeed, match="empty answer"):
        parse_feed(b"", content_type, "https://news.example.org/feed")


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream"])
def test_a_json_feed_with_a_byte_order_mark_is_read_whatever_its_content_type(
    content_type: str,
) -> None:
    feed = parse_feed(b"\xef\xbb\xbf" + JSON_FEED, content_type, "https://news.example.org/f")
    assert [item.title for item in feed.items] == ["Café closes"]


RSS_BODY = (
    b'<rss version="2.0"><channel><title>T</title><item><title>A</title></item></channel></rss>'
)


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>',
        b'<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!doctype rss [<!-- ]> --><!entity x SYSTEM "http://127.0.0.1/">]>',
        b'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://127.0.0.1/x.dtd"> %remote;]>',
    ],
)
def test_a_doctype_declaring_entities_is_refused(doctype: bytes) -> None:
    body = b'<?xml version="1.0"?>\n' + doctype + b"\n" + RSS_BODY
    with pytest.raises(NotAFeed, match="declares entities"):
        parse_feed(body, "application/rss+xml", "https://news.example.org/feed")
    utf16 = b"\xff\xfe" + body.decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>').encode(
        "utf-16-le"
    )
    with pytest.raises(NotAFeed, match="declares entities"):
        parse_feed(utf16, "application/rss+xml", "https://news.example.org/feed")


def test_a_public_doctype_without_entities_is_read() -> None:
    body = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n' + RSS_BODY
    )
    feed = parse_feed(body, "application/rss+xml", "https://news.example.org/feed")
    assert [item.title for item in feed.items] == ["A"]
