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
