"""Click counts end to end: a digest sent through the SMTP sink carries redirect links that
name no one; following one counts once; scanners count apart; bad tokens get a 404 page."""

from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.tokens import Signer
from mailer.web import keys
from mailer.web.app import create_app
from tests.support.clicks import BROWSER, REDIRECT, backdate, counted, send_digest
from tests.support.factories import engine_settings
from tests.support.helpers import ClientFactory
from tests.support.smtp_sink import SmtpSink

Client = TestClient[web.Request, web.Application]


async def test_digest_links_count_once_name_no_one_and_scanners_count_apart(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    aiohttp_client: ClientFactory,
) -> None:  # fmt: skip
    settings = engine_settings(tmp_path)
    sent = await send_digest(pool, db_url, smtp_sink, settings)
    ana, ben = sent.texts["ana@example.org"], sent.texts["ben@example.org"]
    ana_links, ben_links = REDIRECT.findall(ana), REDIRECT.findall(ben)
    assert len(ana_links) == 3  # one per item in the text part
    assert ana_links == ben_links  # the same token for every recipient: it names no one
    assert set(REDIRECT.findall(sent.htmls["ana@example.org"])) == set(ana_links)
    signer = Signer(settings.signing_keys)
    targets = {}
    for link in ana_links:
        mailing_id, item_id, url = signer.read_click_token(link.removeprefix("/r/"))
        assert mailing_id == sent.mailing_id and item_id in sent.items.values()
        assert url.startswith("https://news.example.org/")
        targets[item_id] = (link, url)

    await backdate(pool, sent.mailing_id)
    client: Client = await aiohttp_client(create_app(settings, pool))
    counter = client.app[keys.clicks_key]
    naloxone = sent.items["Naloxone"]
    link, url = targets[naloxone]
    answer = await client.get(link, headers={"User-Agent": BROWSER}, allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == url
    assert "Set-Cookie" not in answer.headers and answer.headers["Cache-Control"] == "no-store"
    assert await counted(pool, counter) == {naloxone: (1, 0)}

    # HEAD, a known scanner and a preview bot: counted apart.
    answer = await client.head(link, headers={"User-Agent": BROWSER}, allow_redirects=False)
    assert answer.status == 302
    for agent in ("Mozilla/5.0 (compatible; BingPreview/1.0b)", "Slackbot-LinkExpanding 1.0"):
        answer = await client.get(link, headers={"User-Agent": agent}, allow_redirects=False)
        assert answer.status == 302
    assert await counted(pool, counter) == {naloxone: (1, 3)}

    # Every link of the mail at once from one client: a scanner, its first click too.
    burst_agent = BROWSER + " Gateway"
    for other, _ in targets.values():
        answer = await client.get(other, headers={"User-Agent": burst_agent}, allow_redirects=False)
        assert answer.status == 302
    found = await counted(pool, counter)
    assert found[naloxone] == (1, 4)
    assert sum(c for c, _ in found.values()) == 1 and sum(f for _, f in found.values()) == 6


async def test_a_click_right_after_the_send_starts_is_a_scanners(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    aiohttp_client: ClientFactory,
) -> None:  # fmt: skip
    settings = engine_settings(tmp_path)
    sent = await send_digest(pool, db_url, smtp_sink, settings)
    link = REDIRECT.findall(sent.texts["ana@example.org"])[0]
    client: Client = await aiohttp_client(create_app(settings, pool))
    answer = await client.get(link, headers={"User-Agent": BROWSER}, allow_redirects=False)
    assert answer.status == 302
    assert list((await counted(pool, client.app[keys.clicks_key])).values()) == [(0, 1)]


async def test_tampered_or_foreign_tokens_get_a_404_page_and_count_nothing(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    aiohttp_client: ClientFactory,
) -> None:  # fmt: skip
    settings = engine_settings(tmp_path)
    sent = await send_digest(pool, db_url, smtp_sink, settings)
    link = REDIRECT.findall(sent.texts["ana@example.org"])[0]
    token = link.removeprefix("/r/")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    foreign = Signer("another-secret-key-0123456789abcdef").click_token(
        sent.mailing_id, 1, "https://evil.example.com/"
    )
    client: Client = await aiohttp_client(create_app(settings, pool))
    for bad in (flipped, token[:-6], foreign, "x", "A" * 3000):
        answer = await client.get(f"/r/{bad}", allow_redirects=False)
        assert answer.status == 404, bad
        assert "Location" not in answer.headers
        assert "This link is not valid" in await answer.text()
    spanish = await client.get(
        f"/r/{flipped}", headers={"Accept-Language": "es"}, allow_redirects=False
    )
    assert spanish.status == 404 and "Este enlace no es válido" in await spanish.text()
    assert await counted(pool, client.app[keys.clicks_key]) == {}


async def test_redirects_off_puts_plain_links_in_mail(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    base = engine_settings(tmp_path)
    settings = replace(base, clicks=replace(base.clicks, redirects=False))
    sent = await send_digest(pool, db_url, smtp_sink, settings)
    text = sent.texts["ana@example.org"]
    assert "/r/" not in text and "/r/" not in sent.htmls["ana@example.org"]
    item_links = await pool.fetch("SELECT link FROM items")
    for row in item_links:
        assert row["link"] in text
        assert urlsplit(row["link"]).netloc == "news.example.org"


async def test_a_signed_link_of_a_deleted_mailing_still_redirects_and_counts_nothing(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    settings = engine_settings(tmp_path)
    token = Signer(settings.signing_keys).click_token(999, 999, "https://news.example.org/café ok")
    client: Client = await aiohttp_client(create_app(settings, pool))
    answer = await client.get(f"/r/{token}", headers={"User-Agent": BROWSER}, allow_redirects=False)
    assert answer.status == 302
    assert answer.headers["Location"] == "https://news.example.org/caf%C3%A9%20ok"
    assert await counted(pool, client.app[keys.clicks_key]) == {}  # written, and dropped
