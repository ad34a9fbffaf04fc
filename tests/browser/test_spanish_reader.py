"""A Spanish-speaking reader in a real browser (Accept-Language: es) against a real
`mailer serve`: the form, the confirmation mail in the outbox, the confirmation, the
preference page and unsubscribing, without meeting one English sentence of the catalog."""

from __future__ import annotations

import asyncio
import re
import time

import asyncpg
import pytest
import pytest_asyncio
from babel.messages.pofile import read_po
from playwright.async_api import Browser, Page, Route, expect

from mailer.audience.topics import Topic, create_topic
from mailer.i18n import locale_dir
from mailer.web.public import MIN_FORM_SECONDS
from tests.browser.support import DESKTOP, NOT_LOOPBACK, RunningService

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


def english_texts() -> list[str]:
    """Every English msgid of the catalog (pieces between markup and placeholders) longer
    than 3 characters: none may show on a Spanish reader's page or mail."""
    with (locale_dir() / "es" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    texts: list[str] = []
    for message in catalog:
        for msgid in map(str, message.id if isinstance(message.id, tuple) else (message.id,)):
            plain = re.sub(r"<[^>]+>|%\([a-z_]+\)s", "\x00", msgid)
            texts += [p.strip() for p in plain.split("\x00") if len(p.strip()) > 3]
    return texts


ENGLISH = english_texts()


def english_in(text: str) -> list[str]:
    flat = " ".join(re.sub(r"https?://\S+", " ", text).split())
    return [t for t in ENGLISH if re.search(rf"(?<!\w){re.escape(t)}(?!\w)", flat)]


async def assert_no_english(page: Page) -> None:
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    text = await page.locator("body").inner_text()
    title = await page.title()
    assert english_in(f"{title}\n{text}") == [], (page.url, english_in(text))


@pytest_asyncio.fixture(loop_scope="session")
async def spanish_page(browser: Browser) -> Page:
    context = await browser.new_context(viewport=DESKTOP, locale="es-ES")
    context.set_default_timeout(5_000)

    async def refuse(route: Route) -> None:
        await route.abort("blockedbyclient")

    await context.route(NOT_LOOPBACK, refuse)
    return await context.new_page()


@pytest_asyncio.fixture(loop_scope="session")
async def temas(db: asyncpg.Pool) -> list[Topic]:
    return [await create_topic(db, name="Prevención de sobredosis", slug="sobredosis")]


async def outbox_mail(page: Page, base_url: str, recipient: str) -> tuple[str, str]:
    """(subject, text) of the newest mail to `recipient` in the development outbox."""
    deadline = time.monotonic() + 10.0
    while True:
        listing = await page.request.get(f"{base_url}/dev/outbox.json")
        assert listing.ok
        mails = [m for m in (await listing.json())["messages"] if recipient in m["recipients"]]
        if mails:
            break
        assert time.monotonic() < deadline, f"no mail to {recipient}"
        await asyncio.sleep(0.2)
    text = await page.request.get(f"{base_url}/dev/outbox/{mails[0]['key']}/text")
    return mails[0]["subject"], await text.text()


async def test_a_spanish_reader_signs_up_confirms_manages_and_leaves_in_spanish(
    service: RunningService, spanish_page: Page, db: asyncpg.Pool, temas: list[Topic]
) -> None:
    page = spanish_page
    base = service.base_url
    await page.goto(f"{base}/subscribe")
    served_at = time.monotonic()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Únase a nuestra lista de correo"
    )
    await expect(page.get_by_label("Idioma de nuestros correos")).to_have_value("es")
    await assert_no_english(page)
    await page.get_by_label("Correo electrónico").fill("lucia@example.org")
    await page.get_by_role("textbox", name="Nombre (opcional)").fill("Lucía")
    await page.get_by_role("checkbox", name="Prevención de sobredosis").check()
    await asyncio.sleep(max(0.0, served_at + MIN_FORM_SECONDS + 0.2 - time.monotonic()))
    await page.get_by_role("button", name="Suscribirme").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Revise su bandeja de entrada")
    await assert_no_english(page)

    subject, text = await outbox_mail(page, base, "lucia@example.org")
    assert subject.startswith("Confirme su suscripción")
    assert "Hola, Lucía:" in text
    assert english_in(subject + "\n" + text) == []
    link = re.search(r"(https?://\S+/confirm/[A-Za-z0-9_-]+)", text)
    assert link, text

    await page.goto(link.group(1))  # the page confirms by itself
    await expect(page.get_by_role("heading", level=1)).to_have_text("¡Bienvenida, Lucía!")
    await assert_no_english(page)
    assert await db.fetchval(
        "SELECT status FROM subscribers WHERE email = 'lucia@example.org'"
    ) == ("active")

    await page.get_by_role("link", name="Gestionar sus preferencias").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sus preferencias")
    await expect(page.get_by_role("radio", name="Español")).to_be_checked()
    await assert_no_english(page)
    await page.get_by_role("radio", name="Pausa de 1 mes").check()
    await page.get_by_role("button", name="Guardar mis preferencias").click()
    await expect(page.get_by_text("Guardado.")).to_be_visible()
    await expect(
        page.get_by_text(re.compile(r"En pausa hasta el \d+ de \w+ de \d{4}"))
    ).to_be_visible()
    await assert_no_english(page)

    await page.get_by_role("link", name="Borrar mis datos").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Borrar mis datos")
    await assert_no_english(page)
    await page.get_by_role("link", name="Volver a mis preferencias").click()

    await page.get_by_role("button", name="Cancelar toda la suscripción").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Su suscripción está cancelada")
    await assert_no_english(page)
    assert await db.fetchval(
        "SELECT status FROM subscribers WHERE email = 'lucia@example.org'"
    ) == ("unsubscribed")
    await page.goto(f"{base}/preferences/not-a-valid-token")  # an error page, in Spanish too
    await assert_no_english(page)
    await page.context.close()
