"""Readers' languages end to end: a Spanish signup gets Spanish mail with the consent in
Spanish; CMS items carry a language and link translations; a digest gives each reader
their language's items (or every language), with the editors' subject and intro per
language; compiled once per (mailing, language)."""

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from babel.messages.pofile import read_po

from mailer.audience.topics import create_topic
from mailer.content.push import parse_push, store_push
from mailer.delivery.compose import Composer
from mailer.editorial import digests, series
from mailer.errors import InvalidInput
from mailer.i18n import locale_dir
from mailer.models import ClaimedDelivery
from mailer.tokens import Signer
from mailer.web.app import create_app
from tests.support.factories import SECRET, engine_settings, running_worker, wait_until
from tests.support.helpers import ClientFactory
from tests.support.smtp_sink import SmtpSink

Client = TestClient[web.Request, web.Application]
NOW = datetime.now(UTC)


def english_sentences() -> list[str]:
    with (locale_dir() / "es" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    out: list[str] = []
    for message in catalog:
        for msgid in map(str, message.id if isinstance(message.id, tuple) else (message.id,)):
            plain = re.sub(r"<[^>]+>|%\([a-z_]+\)s", "\x00", msgid)
            out += [p.strip() for p in plain.split("\x00") if len(p.strip()) > 3]
    return out


def english_left(text: str) -> list[str]:
    flat = " ".join(re.sub(r"<[^>]+>|https?://\S+", " ", text).split())  # not in links
    return [t for t in english_sentences() if re.search(rf"(?<!\w){re.escape(t)}(?!\w)", flat)]


def body(message, kind: str) -> str:  # type: ignore[no-untyped-def]
    return str(message.get_body((kind,)).get_content())


async def test_a_spanish_signup_is_mailed_in_spanish_and_consents_in_spanish(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    aiohttp_client: ClientFactory,
) -> None:  # fmt: skip
    await create_topic(pool, name="Salud")
    settings = engine_settings(tmp_path)
    client: Client = await aiohttp_client(create_app(settings, pool))
    form = {
        "email": "lucia@example.org",
        "name": "Lucía",
        "topics": "salud",
        "language": "es",
        "stamp": Signer(SECRET).form_stamp(int(time.time()) - 10),
    }
    posted = await client.post("/subscribe", data=form, allow_redirects=False)
    assert posted.status == 303
    assert "lang=es" in posted.headers["Location"]
    thanks = await (await client.get(posted.headers["Location"])).text()
    assert "Revise su bandeja de entrada" in thanks
    locale = await pool.fetchval("SELECT locale FROM subscribers WHERE email = 'lucia@example.org'")
    assert locale == "es"
    wording = await pool.fetchval(
        "SELECT t.text FROM consent_events e JOIN consent_texts t "
        "ON t.text_hash = e.consent_text_hash JOIN subscribers s USING (subscriber_id) "
        "WHERE s.email = 'lucia@example.org'"
    )
    assert wording.startswith("Sí, envíenme las noticias de")
    async with running_worker(pool, db_url, smtp_sink, settings):
        (mail,) = await smtp_sink.wait_for(1)
    message = mail.message
    assert message["Subject"].startswith("Confirme su suscripción")
    text, html = body(message, "plain"), body(message, "html")
    assert "Hola, Lucía:" in text
    assert "7 días" in text or "día" in text
    assert english_left(text) == [] and english_left(html) == []
    assert '<html lang="es"' in html


async def test_the_webhook_takes_a_language(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    from mailer.audience.signup_input import parse_signup

    request = parse_signup(
        {"email": "x@example.org", "language": "es-MX"}, ip=None, user_agent=None
    )
    assert request.locale == "es-MX"
    with pytest.raises(InvalidInput) as refused:
        parse_signup({"email": "x@example.org", "language": "not a tag"}, ip=None, user_agent=None)
    assert "language" in refused.value.fields


async def _push(pool: asyncpg.Pool, body: dict[str, Any]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store_push(conn, parse_push(body))


async def _reader(pool: asyncpg.Pool, email: str, locale: str | None, topic: int, sid: int) -> int:
    subscriber_id: int = await pool.fetchval(
        "INSERT INTO subscribers (email, email_key, name, status, locale) "
        "VALUES ($1, $1, $2, 'active', $3) RETURNING subscriber_id",
        email, email.split("@")[0].title(), locale,
    )  # fmt: skip
    await pool.execute("INSERT INTO subscriber_topics VALUES ($1, $2)", subscriber_id, topic)
    await pool.execute("INSERT INTO subscriber_series VALUES ($1, $2)", subscriber_id, sid)
    return subscriber_id


@pytest.fixture
async def bilingual(pool: asyncpg.Pool) -> dict[str, int]:
    topic = await create_topic(pool, name="Overdose Prevention")
    weekly = await series.create_series(
        pool, name="Weekly", cron="0 9 * * tue", timezone="UTC", now=NOW
    )
    published = (NOW - timedelta(hours=2)).isoformat()
    await _push(pool, {"items": [
        {"id": "a", "title": "Naloxone in libraries", "language": "en",
         "topics": ["overdose-prevention"], "published": published},
        {"id": "a-es", "title": "Naloxona en las bibliotecas", "language": "es",
         "translation_of": "a", "published": published},
        {"id": "c", "title": "Ferias de salud en el barrio", "language": "es-MX",
         "topics": ["overdose-prevention"], "published": published},
        {"id": "d", "title": "Untagged dispatch", "topics": ["overdose-prevention"],
         "published": published},
    ]})  # fmt: skip
    return {"topic": topic.topic_id, "series": int(weekly["series_id"])}


async def test_a_push_links_translations_and_refuses_unknown_originals(
    pool: asyncpg.Pool, bilingual: dict[str, int]
) -> None:
    rows = await pool.fetch("SELECT guid, language, translation_of, topic_ids FROM items")
    by_guid = {r["guid"]: r for r in rows}
    original = await pool.fetchval("SELECT item_id FROM items WHERE guid = 'a'")
    assert by_guid["a-es"]["translation_of"] == original
    assert by_guid["a-es"]["topic_ids"] == [bilingual["topic"]]  # the original's topics
    with pytest.raises(InvalidInput) as refused:
        await _push(pool, {"id": "z", "title": "Z", "translation_of": "nowhere"})
    assert "translation_of" in refused.value.fields
    with pytest.raises(InvalidInput):
        parse_push({"id": "z", "title": "Z", "translation_of": "z"})


async def test_each_reader_gets_their_languages_items_and_texts(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    bilingual: dict[str, int],
) -> None:  # fmt: skip
    topic, sid = bilingual["topic"], bilingual["series"]
    await _reader(pool, "ana@example.org", "en", topic, sid)
    await _reader(pool, "beto@example.org", "es", topic, sid)
    cy = await _reader(pool, "cy@example.org", "es", topic, sid)
    await pool.execute("UPDATE subscribers SET both_languages = true WHERE subscriber_id = $1", cy)
    settings = engine_settings(tmp_path)
    mailing_id = await digests.create_digest(pool, settings, sid, now=NOW)
    assert mailing_id is not None
    await digests.edit_digest(
        pool, settings, mailing_id, subject="This week", intro_md="Hello from the desk.",
        texts={"es": {"subject": "Esta semana", "intro_md": "Saludos de la redacción."}},
    )  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        await digests.edit_digest(pool, settings, mailing_id, texts={"xx": {"subject": "?"}})
    assert "texts.xx" in refused.value.fields
    shown = await digests.preview(pool, settings, mailing_id, language="es")
    assert shown["subject"] == "Esta semana" and "Saludos de la redacción." in shown["text"]
    assert "Gestionar sus preferencias" in shown["text"]
    beto_view = await digests.preview(pool, settings, mailing_id, subscriber="beto@example.org")
    assert "Naloxone in libraries" not in beto_view["text"]

    await digests.schedule(pool, settings, mailing_id, NOW, now=NOW)
    assert await digests.send_due(pool, settings, now=NOW + timedelta(seconds=1)) == [mailing_id]
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(3)
        await wait_until(
            lambda: pool.fetchval(
                "SELECT status = 'sent' FROM mailings WHERE mailing_id = $1", mailing_id
            )
        )
    by_rcpt = {m.rcpt_tos[0]: m.message for m in smtp_sink.received}
    ana, beto, both = (body(by_rcpt[f"{n}@example.org"], "plain") for n in ("ana", "beto", "cy"))
    assert by_rcpt["ana@example.org"]["Subject"] == "This week"
    assert "Naloxone in libraries" in ana and "Untagged dispatch" in ana
    assert "Naloxona" not in ana and "Ferias" not in ana
    assert "Hello from the desk." in ana and "Manage your preferences" in ana
    assert by_rcpt["beto@example.org"]["Subject"] == "Esta semana"
    assert "Naloxona en las bibliotecas" in beto and "Ferias de salud en el barrio" in beto
    assert "Untagged dispatch" in beto and "Naloxone in libraries" not in beto
    assert "Saludos de la redacción." in beto and "Hola, Beto:" in beto
    assert f"{NOW - timedelta(hours=2):%Y}" in beto and " de " in beto  # a Spanish date
    assert english_left(beto) == []
    assert "Naloxone in libraries" in both and "Naloxona en las bibliotecas" in both


async def test_compiled_once_per_mailing_and_language(
    pool: asyncpg.Pool, tmp_path: Path, bilingual: dict[str, int]
) -> None:
    settings = engine_settings(tmp_path)
    mailing_id = await digests.create_digest(pool, settings, bilingual["series"], now=NOW)
    assert mailing_id is not None
    spanish_view = await digests.preview(pool, settings, mailing_id, language="es")
    assert re.fullmatch(r"Weekly — \d+ de [a-z]+ de \d{4}", spanish_view["subject"])
    composer = Composer(pool, settings)

    def delivery(locale: str | None) -> ClaimedDelivery:
        return ClaimedDelivery(
            delivery_id=1, mailing_id=mailing_id, subscriber_id=None, kind="digest",
            recipient="r@example.org", payload=None, item_ids=None, attempts=0,
            created_at=NOW, name=None, key_version=None, plain_text_only=False, locale=locale,
        )  # fmt: skip

    english = await composer.compiled_for(delivery("en"))
    spanish = await composer.compiled_for(delivery("es"))
    assert english is not spanish
    assert await composer.compiled_for(delivery(None)) is english  # English by default
    assert await composer.compiled_for(delivery("es-MX")) is spanish
    assert await composer.compiled_for(delivery("fr")) is english  # no catalog: English
    assert len(composer._cache) == 2
    composer.forget(mailing_id)
    assert len(composer._cache) == 0


async def test_an_alert_goes_out_in_each_readers_language(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path,
    bilingual: dict[str, int],
) -> None:  # fmt: skip
    from mailer.editorial import alerts

    topic, sid = bilingual["topic"], bilingual["series"]
    await _reader(pool, "ana@example.org", "en", topic, sid)
    await _reader(pool, "beto@example.org", "es", topic, sid)
    await pool.execute("UPDATE subscribers SET accepts_alerts = true")
    settings = engine_settings(tmp_path)
    original = await pool.fetchval("SELECT item_id FROM items WHERE guid = 'a'")
    draft = await alerts.create(pool, settings, original, requested_by="editor@example.org")
    await alerts.confirm(
        pool, settings, draft.notice_id, confirmed=2, confirmed_by="editor@example.org"
    )
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(2)
    by_rcpt = {m.rcpt_tos[0]: m.message for m in smtp_sink.received}
    assert by_rcpt["ana@example.org"]["Subject"] == "[Alert] Naloxone in libraries"
    assert by_rcpt["beto@example.org"]["Subject"] == "[Alerta] Naloxona en las bibliotecas"
    beto = body(by_rcpt["beto@example.org"], "plain")
    assert "Naloxona en las bibliotecas" in beto and "Naloxone" not in beto
    assert "ALERTA URGENTE" in beto and english_left(beto) == []
