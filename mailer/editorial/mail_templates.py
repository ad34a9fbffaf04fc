"""Mail templates edited in the console: the template in force and where it comes from,
checks before anything is stored, a preview as a chosen subscriber, and versions (save,
revert, back to the default).

Precedence, per kind: the newest version saved in the console, else the data dir's file
(<data dir>/templates/email/<kind>/<part>), else the bundled template. A version holds the
three parts (subject.txt, body.txt, body.html); one template serves every language (the
text is translated with {% trans %} and _() inside it)."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.addresses import address_key
from mailer.config import Settings
from mailer.db import load_queries
from mailer.delivery import template_versions as versions
from mailer.delivery.render import CompiledMessage, MessageCompiler, TemplateProblem
from mailer.delivery.template_versions import KINDS, PARTS, template_name
from mailer.editorial.render_parts import compile_for_page, page_compiler, page_parts
from mailer.editorial.template_samples import sample_contexts
from mailer.errors import InvalidInput, NotFound
from mailer.i18n import DEFAULT, language_name, language_of, languages
from mailer.numbers import whole_number
from mailer.resources import templates_dir

Q = load_queries("editorial/mail_templates")

LABELS = {
    "digest": "Digest",
    "alert": "Urgent alert",
    "correction": "Correction notice",
    "confirm": "Confirmation (double opt-in)",
    "welcome": "Welcome",
}
FIELDS = {"subject.txt": "subject_txt", "body.txt": "body_txt", "body.html": "body_html"}
MAX_CHARS = 200_000
# Slots delivery fills in every mail (compose.values_for); a kind's own come from its
# bundled template (e.g. confirm_url, unsubscribe_all_url).
_BASE_SLOTS = frozenset({"greeting", "email", "reason", "preferences_url", "unsubscribe_url"})
# What a template of a kind must keep, in both the text and the HTML part: the way out of
# a list (the law asks for it), the confirmation link (without it nobody can confirm).
REQUIRED = {kind: "unsubscribe_url" for kind in KINDS} | {"confirm": "confirm_url"}
NOT_SAVED = "the template was not saved"


@dataclass(frozen=True)
class Editor:
    editor_id: int | None
    email: str


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"no editable mail template {kind!r} (there are: {', '.join(KINDS)})")
    return kind


def file_parts(settings: Settings, kind: str) -> tuple[dict[str, str], str]:
    """The three parts as the files have them (the data dir's first) and where the first
    of them comes from: "data dir" if any part is overridden there, else "bundled"."""
    parts, origin = {}, "bundled"
    for part in PARTS:
        for folder, where in ((settings.data_dir / "templates", "data dir"), (templates_dir(), "")):
            path = folder / "email" / kind / part
            if path.is_file():
                parts[part] = path.read_text(encoding="utf-8")
                origin = where or origin
                break
    return parts, origin


async def in_force(pool: asyncpg.Pool, settings: Settings, kind: str) -> dict[str, Any]:
    """{"parts", "origin" ("console", "data dir" or "bundled"), "version" (row or None),
    "default_origin" (where the files' template comes from)}."""
    newest = await versions.list_versions(pool, check_kind(kind), limit=1)
    files, origin = file_parts(settings, kind)
    if newest and newest[0]["action"] != "default":
        row = await versions.get_version(pool, kind, newest[0]["version_id"])
        parts = versions.parts_of(row)
        if parts is not None:
            return {"parts": parts, "origin": "console", "version": row, "default_origin": origin}
    return {"parts": files, "origin": origin, "version": None, "default_origin": origin}


async def latest_content(pool: asyncpg.Pool, kind: str) -> dict[str, Any] | None:
    """The newest real mailing's context of this kind (None for transactional kinds)."""
    if kind not in ("digest", "alert", "correction"):
        return None
    content = await pool.fetchval(Q["latest_content"], kind)
    return content if isinstance(content, dict) else None


# ------------------------------------------------------------------------------ checks


def _problem_field(kind: str, problem: TemplateProblem) -> str:
    name = problem.template or ""
    if name.startswith(f"email/{kind}/") and name.rsplit("/", 1)[-1] in FIELDS:
        return FIELDS[name.rsplit("/", 1)[-1]]
    return "body_html" if name.endswith(".html") or "body.html" in str(problem) else "form"


def _said(kind: str, problem: TemplateProblem, language: str) -> str:
    """'Line 4: unexpected '}'' (where else than the part itself, and which language)."""
    name = problem.template or ""
    where = "" if name.startswith(f"email/{kind}/") else f"{name}, " if name else ""
    line = f"line {problem.line}: " if problem.line else ""
    said = f"{where}{line}{problem.detail}"
    said = said[:1].upper() + said[1:]
    if language != DEFAULT:
        said += f" (when written in {language_name(language)})"
    return said


def _slot_line(parts: Mapping[str, str], name: str) -> tuple[str, str]:
    """(field, "line N: ") of the first use of slot(name) in the parts."""
    pattern = re.compile(rf"slot\(\s*['\"]{re.escape(name)}['\"]")
    for part, source in parts.items():
        found = pattern.search(source)
        if found:
            return FIELDS[part], f"line {source.count(chr(10), 0, found.start()) + 1}: "
    return "form", ""


def allowed_slots(settings: Settings, kind: str) -> frozenset[str]:
    """The slots delivery fills for a kind: every mail's, and its bundled template's."""
    only_bundled = MessageCompiler([templates_dir()])
    compiled = compile_for_page(
        only_bundled, settings, kind, sample_contexts(kind, settings.base_url)[0]
    )
    return _BASE_SLOTS | compiled.slots


def check(
    settings: Settings, kind: str, parts: Mapping[str, str], real: dict[str, Any] | None = None
) -> None:
    """Refuse (InvalidInput, a message per part with the line) a template that does not
    parse, does not render with realistic contexts in every language, uses a value mails
    do not have, or lost its unsubscribe (confirmation) link. Stores nothing."""
    problems: dict[str, str] = {}
    for part, field in FIELDS.items():
        source = parts.get(part, "")
        if not source.strip():
            problems[field] = "Is empty: every mail needs this part"
        elif len(source) > MAX_CHARS:
            problems[field] = f"Is at most {MAX_CHARS:,} characters (this is {len(source):,})"
    if problems:
        raise InvalidInput(NOT_SAVED, problems)
    saved = {template_name(kind, part): parts[part] for part in PARTS}
    allowed = allowed_slots(settings, kind)
    contexts = sample_contexts(kind, settings.base_url) + ([real] if real else [])
    for language in languages():
        compiler = page_compiler(settings, language, saved)
        for context in contexts:
            try:
                compiled = compile_for_page(compiler, settings, kind, context)
            except TemplateProblem as problem:
                field = _problem_field(kind, problem)
                raise InvalidInput(NOT_SAVED, {field: _said(kind, problem, language)}) from None
            _check_slots(kind, compiled, parts, allowed)


def _check_slots(
    kind: str, compiled: CompiledMessage, parts: Mapping[str, str], allowed: frozenset[str]
) -> None:
    for name in sorted(compiled.slots - allowed):
        field, line = _slot_line(parts, name)
        offered = ", ".join(sorted(allowed))
        raise InvalidInput(
            NOT_SAVED,
            {field: f"{line.capitalize()}no value {name!r} in mails (there are: {offered})"},
        )
    needed = REQUIRED[kind]
    for field, part in (("body_txt", compiled.text), ("body_html", compiled.html)):
        if part is not None and needed not in part.slots:
            what = "confirmation link" if needed == "confirm_url" else "unsubscribe link"
            raise InvalidInput(
                NOT_SAVED, {field: f"The {what} is missing: keep {{{{ slot('{needed}') }}}}"}
            )


# ------------------------------------------------------------------------------ preview


async def preview(
    pool: asyncpg.Pool,
    settings: Settings,
    kind: str,
    parts: Mapping[str, str],
    *,
    subscriber: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The mail these parts make for one subscriber (their name, language and, in a
    digest, their topics' items) with the newest real mailing of the kind (a sample if
    none): {"subject", "html", "text", "language", "person", "sample", "problem", "field"}."""
    person = None
    if subscriber:
        person = await pool.fetchrow(
            Q["preview_subscriber"], whole_number(subscriber), address_key(subscriber)
        )
        if person is None:
            raise NotFound(f"no subscriber {subscriber!r}")
    code = language_of(language or (person["locale"] if person is not None else None))
    real = await latest_content(pool, check_kind(kind))
    content = real or sample_contexts(kind, settings.base_url)[0]
    content = {**content, **((content.get("texts") or {}).get(code) or {})}
    item_ids = topic_ids = None
    if person is not None and kind == "digest" and real is not None:
        every = sorted({i for s in content.get("sections", []) for i in s["item_ids"]})
        chosen = await pool.fetchval(Q["items_in_topics"], every, person["topic_ids"])
        item_ids, topic_ids = frozenset(chosen), frozenset(person["topic_ids"])
    shown: dict[str, Any] = {
        "language": code, "person": person, "sample": real is None, "problem": "",
        "field": "", "subject": "", "html": "", "text": "",
    }  # fmt: skip
    saved = {template_name(kind, part): parts.get(part, "") for part in PARTS}
    try:
        compiled = compile_for_page(page_compiler(settings, code, saved), settings, kind, content)
    except TemplateProblem as problem:
        return shown | {
            "problem": _said(kind, problem, code),
            "field": _problem_field(kind, problem),
        }
    name = person["name"] if person is not None else None
    html, text = page_parts(
        compiled, settings, code, item_ids=item_ids, topic_ids=topic_ids, name=name
    )
    head = email.message_from_bytes(compiled.head + b"\r\n", policy=email.policy.default)
    return shown | {"subject": str(head["Subject"] or ""), "html": html, "text": text}


# ------------------------------------------------------------------------------ versions


async def save(
    pool: asyncpg.Pool, settings: Settings, kind: str, parts: Mapping[str, str], editor: Editor
) -> asyncpg.Record:
    """A new version in force, if the parts pass `check`; else nothing is stored."""
    check(settings, check_kind(kind), parts, await latest_content(pool, kind))
    async with pool.acquire() as conn, conn.transaction():
        return await versions.add_version(
            conn, kind, {p: parts[p] for p in PARTS}, action="saved",
            editor_id=editor.editor_id, editor_email=editor.email,
        )  # fmt: skip


async def revert(
    pool: asyncpg.Pool, settings: Settings, kind: str, version_id: int, editor: Editor
) -> asyncpg.Record:
    """A new version with an older one's text (checked again: mails may have changed)."""
    old = await versions.get_version(pool, check_kind(kind), version_id)
    if old is None:
        raise NotFound(f"no version {version_id} of the {kind} template")
    parts = versions.parts_of(old)
    if parts is None:
        return await back_to_default(pool, settings, kind, editor)
    check(settings, kind, parts, await latest_content(pool, kind))
    async with pool.acquire() as conn, conn.transaction():
        return await versions.add_version(
            conn, kind, parts, action="reverted", reverted_from=version_id,
            editor_id=editor.editor_id, editor_email=editor.email,
        )  # fmt: skip


async def back_to_default(
    pool: asyncpg.Pool, settings: Settings, kind: str, editor: Editor
) -> asyncpg.Record:
    """The files (data dir, else bundled) in force again, if they pass `check`."""
    parts, _ = file_parts(settings, check_kind(kind))
    check(settings, kind, parts, await latest_content(pool, kind))
    async with pool.acquire() as conn, conn.transaction():
        return await versions.add_version(
            conn, kind, None, action="default",
            editor_id=editor.editor_id, editor_email=editor.email,
        )  # fmt: skip
