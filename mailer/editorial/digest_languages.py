"""A digest's subject and intro per reader language: what editors write, checked, and the
form the mail templates read (content["texts"][language])."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from mailer.i18n import DEFAULT, format_date, languages

MAX_SUBJECT = 200
MAX_INTRO = 20_000


def check_texts(texts: Any, problems: dict[str, str]) -> dict[str, dict[str, str]] | None:
    """{"es": {"subject": ..., "intro_md": ...}, ...} for the offered languages other than
    English (English is the digest's own subject and intro); problems named per field."""
    if texts is None:
        return None
    if not isinstance(texts, dict):
        problems["texts"] = 'an object such as {"es": {"subject": "...", "intro_md": "..."}}'
        return None
    checked: dict[str, dict[str, str]] = {}
    for language, text in texts.items():
        if language == DEFAULT or language not in languages():
            offered = ", ".join(code for code in languages() if code != DEFAULT)
            problems[f"texts.{language}"] = f"not an offered language (offered: {offered})"
            continue
        if not isinstance(text, dict) or not set(text) <= {"subject", "intro_md"}:
            problems[f"texts.{language}"] = "an object with subject and intro_md"
            continue
        subject, intro = text.get("subject") or "", text.get("intro_md") or ""
        if not isinstance(subject, str) or len(subject.strip()) > MAX_SUBJECT:
            problems[f"texts.{language}.subject"] = f"at most {MAX_SUBJECT} characters"
        elif not isinstance(intro, str) or len(intro) > MAX_INTRO:
            problems[f"texts.{language}.intro_md"] = f"at most {MAX_INTRO:,} characters"
        else:
            checked[language] = {"subject": subject.strip(), "intro_md": intro}
    return checked


def dated_subjects(series_name: str, day: date) -> str:
    """The default subject ("Weekly — 1 de marzo de 2026") in each language but English,
    as mailings.texts JSON: a digest nobody titled is dated the reader's way."""
    return json.dumps(
        {
            code: {"subject": f"{series_name} — {format_date(day, code)}", "intro_md": ""}
            for code in languages()
            if code != DEFAULT
        }
    )


def stored(value: Any) -> dict[str, dict[str, str]]:
    """The mailings.texts column as a dict (asyncpg hands jsonb over as text)."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def content_texts(value: Any, intro_html: Callable[[str], str]) -> dict[str, dict[str, str]]:
    """What a digest's content carries per language: subject, intro as HTML and as text;
    an empty field is left out, so the English one stands in."""
    out: dict[str, dict[str, str]] = {}
    for language, text in stored(value).items():
        entry: dict[str, str] = {}
        if text.get("subject"):
            entry["subject"] = text["subject"]
        if text.get("intro_md", "").strip():
            entry["intro_html"] = intro_html(text["intro_md"])
            entry["intro_text"] = text["intro_md"].strip()
        if entry:
            out[language] = entry
    return out


def for_language(content: dict[str, Any], language: str) -> dict[str, Any]:
    """The digest's content as a reader of `language` gets it."""
    texts = (content.get("texts") or {}).get(language) or {}
    return {**content, **texts}
