"""A Spanish-speaking reader's pages: preference page, language change, unsubscribe,
all in Spanish, with no English msgid of the catalog left in the page text."""

import html as html_lib
import re
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from babel.messages.pofile import read_po

from mailer.audience.topics import create_topic
from mailer.i18n import locale_dir
from mailer.tokens import Purpose, Signer
from mailer.web.app import create_app
from tests.support.factories import SECRET, add_subscribers, engine_settings
from tests.support.helpers import ClientFactory

Client = TestClient[web.Request, web.Application]
SIGNER = Signer(SECRET)


def english_texts() -> list[str]:
    """Every English msgid longer than 3 characters, as a reader would see it."""
    with (locale_dir() / "es" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    texts = []
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for msgid in map(str, ids):
            plain = re.sub(r"<[^>]+>|%\([a-z_]+\)s", "\x00", msgid)
            texts += [p.strip() for p in plain.split("\x00") if len(p.strip()) > 3]
    return texts


def page_text(html: str) -> str:
    body = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", body))


def assert_spanish(html: str) -> None:
    text = " ".join(page_text(html).split())
    english = [t for t in english_texts() if re.search(rf"(?<!\w){re.escape(t)}(?!\w)", text)]
    # "Email" etc. could be shared words; none of the English sentences may remain.
    assert english == [], english


@pytest.fixture
async def client(pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    settings = replace(engine_settings(tmp_path), webhook_secrets=("x" * 20,))
    return await aiohttp_client(create_app(settings, pool))


async def test_the_hosted_form_follows_the_browser_and_the_choice(client: Client) -> None:
    page = await client.get("/subscribe", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    html = await page.text()
    assert page.status == 200
    assert '<html lang="es">' in html
    assert "Únase a nuestra lista de correo" in html
    assert '<option value="es" selected>Español</option>' in html
    assert_spanish(html)
    english = await (await client.get("/subscribe")).text()
    assert "Join our email list" in english
    chosen = await (await client.get("/subscribe?lang=es")).text()
    assert "Únase a nuestra lista de correo" in chosen


async def test_a_spanish_reader_manages_preferences_and_unsubscribes_in_spanish(
    client: Client, pool: asyncpg.Pool
) -> None:
    topic = await create_topic(pool, name="Prevención")
    (reader,) = await add_subscribers(pool, 1)
    await pool.execute("UPDATE subscribers SET locale = 'es' WHERE subscriber_id = $1", reader)
    await pool.execute("INSERT INTO subscriber_topics VALUES ($1, $2)", reader, topic.topic_id)
    prefs = f"/preferences/{SIGNER.subscriber_token(Purpose.PREFERENCES, reader, 1)}"
    page = await client.get(prefs)
    html = await page.text()
    assert page.status == 200
    assert "Sus preferencias" in html
    assert_spanish(html)
    saved = await client.post(
        prefs, data={"topics": topic.slug, "pause": "keep", "language": "es", "name": "Ana"}
    )
    html = await saved.text()
    assert "Guardado." in html
    assert "Nombre cambiado a Ana" in html
    assert_spanish(html)
    unsub = f"/unsubscribe/{SIGNER.subscriber_token(Purpose.UNSUBSCRIBE, reader, 1)}"
    html = await (await client.get(unsub)).text()
    assert "Cancelar la suscripción" in html
    assert_spanish(html)
    html = await (await client.post(unsub)).text()
    assert "Su suscripción está cancelada" in html
    assert_spanish(html)
    # The preference page changes the language: English from now on.
    await pool.execute("UPDATE subscribers SET status = 'active' WHERE subscriber_id = $1", reader)
    changed = await client.post(prefs, data={"topics": topic.slug, "language": "en"})
    assert "Your preferences" in await changed.text()
    assert (
        await pool.fetchval("SELECT locale FROM subscribers WHERE subscriber_id = $1", reader)
        == "en"
    )
    refused = await client.post(prefs, data={"topics": topic.slug, "language": "xx"})
    assert refused.status == 400
