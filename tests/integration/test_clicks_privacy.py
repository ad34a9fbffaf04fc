"""Following a redirect leaves nothing about the reader: every table of the database (from
information_schema) is read before and after, and neither what changed nor anything at all
holds the requester's address, User-Agent, or the subscriber's id, address or tokens."""

from pathlib import Path

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.tokens import Purpose, Signer
from mailer.web import keys
from mailer.web.app import create_app
from tests.support.clicks import REDIRECT, backdate, counted, send_digest
from tests.support.factories import engine_settings
from tests.support.helpers import ClientFactory
from tests.support.smtp_sink import SmtpSink

Client = TestClient[web.Request, web.Application]
AGENT = "Mozilla/5.0 (PrivacyProbe; rv:7731) Gecko/20100101 Firefox/7731.0"
FORWARDED_IP = "203.0.113.77"


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Every row of every table in the public schema, each as its text form."""
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    assert len(tables) > 20  # the whole schema, not a handful of tables
    found = {}
    for row in tables:
        name = row["table_name"]
        rows = await pool.fetch(f'SELECT t::text AS line FROM public."{name}" AS t')
        found[name] = sorted(r["line"] for r in rows)
    return found


def changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, list[str]]:
    out = {}
    for table, lines in after.items():
        old = list(before.get(table, []))
        new = []
        for line in lines:
            if line in old:
                old.remove(line)
            else:
                new.append(line)
        if new:
            out[table] = new
    return out


async def test_following_a_redirect_stores_nothing_about_the_reader(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    aiohttp_client: ClientFactory,
) -> None:  # fmt: skip
    settings = engine_settings(tmp_path, trust_proxy=True)  # the forwarded address is "seen"
    # Subscriber ids far from every other id, so that finding one means finding it.
    await pool.execute("SELECT setval('subscribers_subscriber_id_seq', 880000)")
    sent = await send_digest(pool, db_url, smtp_sink, settings)
    await backdate(pool, sent.mailing_id)
    link = REDIRECT.findall(sent.texts["ana@example.org"])[0]
    client: Client = await aiohttp_client(create_app(settings, pool))
    before = await snapshot(pool)
    answer = await client.get(
        link,
        headers={"User-Agent": AGENT, "X-Forwarded-For": FORWARDED_IP, "Cookie": "probe=7731"},
        allow_redirects=False,
    )
    assert answer.status == 302 and "Set-Cookie" not in answer.headers
    found = await counted(pool, client.app[keys.clicks_key])
    assert list(found.values()) == [(1, 0)]  # it was counted (so something was written)
    after = await snapshot(pool)

    # What the click wrote: one counter row, and nothing else anywhere.
    new = changed(before, after)
    assert list(new) == ["click_counts"] and len(new["click_counts"]) == 1
    columns = await pool.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'click_counts'"
    )
    assert {c["column_name"] for c in columns} == {
        "mailing_id", "item_id", "link", "day", "clicks", "filtered",
    }  # fmt: skip

    signer = Signer(settings.signing_keys)
    personal: list[str] = []
    for email, subscriber_id in sent.readers.items():
        key_version = await pool.fetchval(
            "SELECT key_version FROM subscribers WHERE subscriber_id = $1", subscriber_id
        )
        personal += [email, str(subscriber_id)]
        personal += [
            signer.subscriber_token(purpose, subscriber_id, key_version)
            for purpose in (Purpose.PREFERENCES, Purpose.UNSUBSCRIBE)
        ]
    written = "\n".join(new["click_counts"])
    for secret in (AGENT, FORWARDED_IP, "127.0.0.1", "7731", *personal):
        assert secret not in written, secret
    # Nor anywhere in the database: not the User-Agent, not the address, not the cookie.
    everything = "\n".join(line for lines in after.values() for line in lines)
    for secret in (AGENT, "PrivacyProbe", FORWARDED_IP, "probe=7731"):
        assert secret not in everything, secret
