"""Readers' languages: gettext catalogs (mailer/locale/<lang>/LC_MESSAGES/messages.mo),
the jinja i18n extension, and locale-aware dates and numbers (Babel).

English is the source language (the msgids); every other language is a catalog. Adding
a language is adding mailer/locale/<lang>/LC_MESSAGES/messages.po (and its compiled .mo).
"""

from __future__ import annotations

import functools
import gettext
import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import babel
import babel.dates
import babel.numbers
import jinja2

DEFAULT = "en"
BOTH = "both"  # a reader who takes items in every language
_TAG = re.compile(r"^[A-Za-z]{2,3}")


def locale_dir() -> Path:
    return Path(__file__).resolve().parent / "locale"


@functools.cache
def languages() -> tuple[str, ...]:
    """English first, then every language that has a compiled catalog."""
    found = sorted(
        p.parent.parent.name
        for p in locale_dir().glob("*/LC_MESSAGES/messages.mo")
        if p.parent.parent.name != DEFAULT
    )
    return (DEFAULT, *found)


def language_of(tag: str | None) -> str:
    """The supported language for a stored tag ('es-MX' -> 'es'); English otherwise."""
    if not tag:
        return DEFAULT
    match = _TAG.match(tag.strip())
    code = match.group(0).lower() if match else ""
    return code if code in languages() else DEFAULT


def from_accept_language(header: str | None) -> str:
    """The reader's browser preference (Accept-Language), highest q first; English if none."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        match = _TAG.match(tag)
        if match and match.group(0).lower() in languages() and q > 0:
            choices.append((-q, index, match.group(0).lower()))
    return min(choices)[2] if choices else DEFAULT


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog for a language (English: the msgids themselves)."""
    if language == DEFAULT:
        return gettext.NullTranslations()
    return gettext.translation("messages", str(locale_dir()), languages=[language])


def gettext_for(language: str, message: str) -> str:
    return translations(language_of(language)).gettext(message)


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


class Said(str):
    """A message in English (what logs and events keep) that still knows its msgid and
    values, so a page can say it in the reader's language: Said.of(N_("Added %(topic)s"),
    topic=name)."""

    msgid: str
    values: dict[str, object]

    @classmethod
    def of(cls, msgid: str, **values: object) -> Said:
        said = cls(_fill(msgid, values, DEFAULT))
        said.msgid, said.values = msgid, values
        return said


def _fill(text: str, values: dict[str, object], language: str) -> str:
    """%(name)s filled in, dates and numbers written the language's way."""
    if not values:
        return text
    shown: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, date):
            shown[key] = format_date(value, language)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            shown[key] = format_number(value, language)
        else:
            shown[key] = str(value)
    return text % shown


def say(message: str, language: str) -> str:
    """A message in a language: a Said with its values, or a plain msgid."""
    code = language_of(language)
    if isinstance(message, Said):
        return _fill(translations(code).gettext(message.msgid), message.values, code)
    return translations(code).gettext(message)


@functools.cache
def language_name(code: str) -> str:
    """A language's name in itself ("English", "Español"), for a picker."""
    name = babel.Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def language_choices() -> list[tuple[str, str]]:
    return [(code, language_name(code)) for code in languages()]


def format_date(value: date | datetime | str, language: str, form: str = "long") -> str:
    """A date the language's way ('March 1, 2026', '1 de marzo de 2026'); ISO text too."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    code = language_of(language)
    # English keeps the newsroom's "04 March 2026" (day first, as its pages always had it).
    pattern = "dd MMMM y" if code == DEFAULT and form == "long" else form
    return babel.dates.format_date(value, format=pattern, locale=code)


def format_number(value: float, language: str) -> str:
    return babel.numbers.format_decimal(value, locale=language_of(language))


def install(env: jinja2.Environment, language: str) -> jinja2.Environment:
    """Gives a jinja environment {% trans %}, _() and ngettext in one language, and the
    filters `date_long` and `number` formatted the way that language writes them."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = language
    env.filters["date_long"] = lambda value: format_date(value, language)
    env.filters["number"] = lambda value: format_number(value, language)
    # Values that hold a msgid (a title, an error message) are translated, and escaped
    # like any value: unlike _(), these never mark their text safe or %-format it.
    env.filters["tr"] = lambda value: translations(language).gettext(str(value))
    env.filters["said"] = lambda value: say(value, language)
    return env


class Localized:
    """One jinja environment per language, built on first use from the same factory."""

    def __init__(self, factory: Any, english: jinja2.Environment | None = None) -> None:
        self._factory = factory
        self._envs: dict[str, jinja2.Environment] = {}
        if english is not None:  # the console's environment, with its own filters
            self._envs[DEFAULT] = install(english, DEFAULT)

    def get(self, language: str | None) -> jinja2.Environment:
        code = language_of(language)
        env = self._envs.get(code)
        if env is None:
            env = self._envs[code] = install(self._factory(), code)
        return env

    def all(self) -> Iterable[tuple[str, jinja2.Environment]]:
        return ((code, self.get(code)) for code in languages())
