"""The first run's pieces that need nothing running: the MAILER_DEMO setting, the one exact
exception to the SSRF guard, the demo feed's dates, the outbox's list of links, and the
README's walk kept in step with the browser test that proves it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from mailer.config import load_settings
from mailer.demo.content import demo_feed
from mailer.errors import ConfigError
from mailer.fetch import FetchError, check_url
from mailer.web.outbox import mail_links
from tests.browser import walk

PRODUCTION = {
    "MAILER_ENV": "production",
    "MAILER_DATABASE_URL": "postgresql://db.internal/mailer",
    "MAILER_SMTP_URL": "smtp://relay.internal:25",
    "MAILER_BASE_URL": "https://news.example.org",
    "MAILER_SECRET_KEY": "k" * 40,
    "MAILER_FROM": "News <news@example.org>",
    "MAILER_POSTAL_ADDRESS": "1 Main St",
}


def test_demo_is_on_in_development_and_off_in_production() -> None:
    assert load_settings({}, dotenv=False).demo
    assert not load_settings({"MAILER_DEMO": "false"}, dotenv=False).demo
    assert not load_settings(PRODUCTION, dotenv=False).demo
    assert not load_settings({**PRODUCTION, "MAILER_DEMO": "false"}, dotenv=False).demo
    with pytest.raises(ConfigError) as refused:
        load_settings({**PRODUCTION, "MAILER_DEMO": "true"}, dotenv=False)
    assert refused.value.problems == [
        "MAILER_DEMO is for development only: production never gets demo data"
    ]
    with pytest.raises(ConfigError):
        load_settings({"MAILER_DEMO": "maybe"}, dotenv=False)


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080/demo/feed.xml"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000/demo/feed.xml"),
        ("localhost:8081", "http://127.0.0.1:8081/demo/feed.xml"),
        ("[::]:8080", "http://[::1]:8080/demo/feed.xml"),
        ("[::1]:8080", "http://[::1]:8080/demo/feed.xml"),
        ("10.1.2.3:8080", "http://10.1.2.3:8080/demo/feed.xml"),
    ],
)
def test_the_demo_feed_is_read_where_the_service_listens(listen: str, url: str) -> None:
    settings = load_settings({"MAILER_LISTEN": listen}, dotenv=False)
    assert settings.demo_feed_url == url
    assert settings.feed_trusted_urls == frozenset({url})


def test_production_trusts_no_loopback_feed() -> None:
    assert load_settings(PRODUCTION, dotenv=False).feed_trusted_urls == frozenset()


def test_the_exception_to_the_ssrf_guard_is_one_exact_url() -> None:
    own = "http://127.0.0.1:8080/demo/feed.xml"
    check_url(own, allow_private=False, trusted={own})
    for other in (
        own,  # not trusted here
        "http://127.0.0.1:8080/demo/feed.xml?x=1",
        "http://127.0.0.1:8080/admin",
        "http://127.0.0.1:5432/demo/feed.xml",
        "http://10.0.0.1:8080/demo/feed.xml",
        "http://[::1]:8080/demo/feed.xml",
    ):
        trusted = set() if other == own else {own}
        with pytest.raises(FetchError, match="private or loopback"):
            check_url(other, allow_private=False, trusted=trusted)


def test_demo_feed_dates_move_together() -> None:
    anchor = datetime(2030, 1, 7, 12, 30, 15, 999, tzinfo=UTC)
    text = demo_feed(anchor).decode()
    dates = [parsedate_to_datetime(d) for d in re.findall(r"<pubDate>([^<]+)</pubDate>", text)]
    built = parsedate_to_datetime(re.findall(r"<lastBuildDate>([^<]+)<", text)[0])
    assert built == anchor.replace(microsecond=0)
    assert len(dates) == 12
    assert max(dates) == datetime(2030, 1, 7, 9, 30, 15, tzinfo=UTC)  # 3 hours before
    assert min(dates) == datetime(2030, 1, 1, 15, 30, 15, tzinfo=UTC)  # under 6 days before
    assert demo_feed(anchor) == demo_feed(anchor)


def test_outbox_lists_each_link_of_a_mail_once() -> None:
    html = (
        '<html><head><title>x</title></head><body><p><a class="button" href="https://a.example/'
        'confirm/t0k">Confirm <b>my</b>\n subscription</a></p><p>Or copy: <a href="https://a.'
        'example/confirm/t0k">https://a.example/confirm/t0k</a></p><a href="mailto:x@example.org">'
        'mail</a><a href="javascript:alert(1)">js</a><a href="http://b.example/?a=1&amp;b=2"></a>'
    )
    assert mail_links(html) == [
        ("Confirm my subscription", "https://a.example/confirm/t0k"),
        ("http://b.example/?a=1&b=2", "http://b.example/?a=1&b=2"),
    ]


def test_the_readme_walks_the_tested_path() -> None:
    """The README shows exactly the browser test's pictures, in its order; each is committed,
    a PNG, and small."""
    readme = (walk.ROOT / "README.md").read_text()
    shown = re.findall(r"\]\((docs/screenshots/[\w.-]+\.png)\)", readme)
    assert shown == [f"docs/screenshots/{name}.png" for name in walk.SCREENSHOTS]
    for name in shown:
        picture = walk.ROOT / name
        data = picture.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert len(data) <= walk.MAX_BYTES, (name, len(data))
    assert Path(walk.COMMITTED).is_dir()
