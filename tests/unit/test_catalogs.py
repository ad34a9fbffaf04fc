"""The readers' catalogs: every text has a translation in every language, extraction finds
nothing the catalogs lack, and each committed .mo is the compiled form of its .po."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from mailer.i18n import N_, Said, languages, locale_dir, say

ROOT = Path(__file__).resolve().parents[2]
OTHERS = [code for code in languages() if code != "en"]


def _catalog(code: str):  # type: ignore[no-untyped-def]
    with (locale_dir() / code / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=code)


def _extracted() -> set[str]:
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_spanish_is_there() -> None:
    assert "es" in languages()


@pytest.mark.parametrize("code", OTHERS)
def test_every_message_is_translated(code: str) -> None:
    catalog = _catalog(code)
    untranslated = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            untranslated.append(message.id)
    assert untranslated == []
    assert len(list(catalog)) > 100


@pytest.mark.parametrize("code", OTHERS)
def test_extraction_finds_nothing_missing_from_the_catalog(code: str) -> None:
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in _catalog(code) if m.id}
    extracted = _extracted()
    assert "Join our email list" in extracted  # the extraction itself works
    assert sorted(extracted - ids) == []
    assert sorted(ids - extracted) == []  # no stale entries either


@pytest.mark.parametrize("code", OTHERS)
def test_compiled_catalog_is_in_step(code: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalog(code))
    committed = (locale_dir() / code / "LC_MESSAGES" / "messages.mo").read_bytes()
    assert committed == compiled.getvalue(), "run `make messages` (pybabel compile)"


def test_placeholders_survive_translation() -> None:
    for code in OTHERS:
        for message in _catalog(code):
            if not message.id or isinstance(message.id, tuple):
                continue
            for name in ("%(org)s", "%(email)s", "%(url)s", "%(name)s", "%(count)s"):
                assert (name in message.id) == (name in message.string), message.id


def test_said_speaks_each_language_with_its_dates() -> None:
    from datetime import date

    said = Said.of(N_("Paused until %(date)s"), date=date(2026, 3, 1))
    assert said == "Paused until 01 March 2026"
    assert say(said, "es") == "En pausa hasta el 1 de marzo de 2026"
    assert say(N_("Nothing changed."), "es-MX") == "No cambió nada."
    assert say(N_("Nothing changed."), "fr") == "Nothing changed."


def test_the_browser_language_and_stored_tags() -> None:
    from mailer.i18n import from_accept_language, language_of

    assert from_accept_language("fr-FR,es;q=0.8,en;q=0.5") == "es"
    assert from_accept_language("en;q=0.4, es-MX;q=0.9") == "es"
    assert from_accept_language("es;q=0, en") == "en"
    assert from_accept_language("de, fr") == "en"
    assert from_accept_language(None) == "en"
    assert from_accept_language("es;q=abc") == "en"  # a q it cannot read counts for nothing
    assert language_of("es_ES") == "es" and language_of("ES-mx") == "es"
    assert language_of("pt-BR") == "en" and language_of("") == "en" and language_of(None) == "en"


def test_plural_rules_are_the_languages() -> None:
    from mailer.delivery.compose import duration_words

    assert duration_words(86400) == "1 day" and duration_words(7 * 86400) == "7 days"
    assert duration_words(86400, "es") == "1 día" and duration_words(2 * 86400, "es") == "2 días"
    assert duration_words(60, "es") == "1 minuto" and duration_words(3600, "es") == "1 hora"
