"""Mail templates in the console (admins: a template writes every mail, its unsubscribe
link and postal address included): edit with a live preview as a chosen subscriber,
checked before saving; versions with who and when, revert, back to the default."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from mailer.delivery import template_versions as versions
from mailer.editorial import mail_templates as templates
from mailer.errors import InvalidInput, NotFound
from mailer.i18n import language_choices, language_name, languages
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput
from mailer.web.console.page import render
from mailer.web.console.session import admin_only, current
from mailer.web.middleware import MAIL_PREVIEW_CSP


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/templates", list_page)
    r.add_get("/templates/{kind}", edit_page)
    r.add_post("/templates/{kind}", save)
    r.add_get("/templates/{kind}/preview.html", preview_in_force)
    r.add_post("/templates/{kind}/preview.html", preview_draft)
    r.add_post("/templates/{kind}/check", check_draft)
    r.add_get("/templates/{kind}/versions/{version_id}", version_page)
    r.add_post("/templates/{kind}/versions/{version_id}/revert", revert)
    r.add_post("/templates/{kind}/default", back_to_default)


def _kind(request: web.Request) -> str:
    return templates.check_kind(request.match_info["kind"])


def _editor(request: web.Request) -> templates.Editor:
    editor = current(request).editor
    return templates.Editor(editor.editor_id, editor.email)


def _parts(form: MultiMapping[Any]) -> dict[str, str]:
    """The three parts as posted (browsers send CRLF line ends in a textarea)."""
    out = {}
    for part, field in templates.FIELDS.items():
        value = form.get(field, "")
        out[part] = value.replace("\r\n", "\n") if isinstance(value, str) else ""
    return out


def _who(source: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(subscriber, language) a preview is written for."""
    subscriber = source.get("subscriber", "")
    language = source.get("language", "")
    subscriber = subscriber.strip()[:320] if isinstance(subscriber, str) else ""
    return subscriber or None, language if language in languages() else None


@admin_only
async def list_page(request: web.Request) -> web.StreamResponse:
    pool, settings = request.app[keys.pool_key], request.app[keys.settings_key]
    rows = []
    for kind in versions.KINDS:
        found = await templates.in_force(pool, settings, kind)
        newest = await versions.list_versions(pool, kind, limit=1)
        rows.append({"kind": kind, "label": templates.LABELS[kind], **found,
                     "newest": newest[0] if newest else None})  # fmt: skip
    return render(request, "console/mail_templates.html", title="Mail templates", rows=rows)


async def _editor_page(
    request: web.Request, kind: str, *, form: FormInput | None = None, status: int = 200
) -> web.StreamResponse:
    pool, settings = request.app[keys.pool_key], request.app[keys.settings_key]
    found = await templates.in_force(pool, settings, kind)
    if form is None:
        values = {field: found["parts"].get(part, "") for part, field in templates.FIELDS.items()}
        form = FormInput.prefilled(values | {"subscriber": "", "language": ""})
    subscriber, language = _who(request.query)
    parts = {part: form.values.get(field, "") for part, field in templates.FIELDS.items()}
    who = {
        "subscriber": form.values.get("subscriber") or subscriber or "",
        "language": form.values.get("language") or language or "",
    }
    shown = await _preview(request, kind, parts, who)
    done = request.query.get("done", "")
    notices = {
        "saved": "Saved: the new version is in force for the next mails.",
        "reverted": "Reverted: the older text is in force again, as a new version.",
        "default": "Back to the default: the template from the files is in force.",
    }
    return render(
        request, "console/mail_template.html", status=status,
        title=f"{templates.LABELS[kind]} mail template", kind=kind,
        label=templates.LABELS[kind], found=found, form=form,
        history=await versions.list_versions(pool, kind), notice=notices.get(done, ""),
        language_choices=language_choices(), subscriber=subscriber or "", language=language or "",
        shown=shown, as_whom=_as_whom(shown.get("person"), shown.get("language", "")),
    )  # fmt: skip


@admin_only
async def edit_page(request: web.Request) -> web.StreamResponse:
    return await _editor_page(request, _kind(request))


@admin_only
async def save(request: web.Request) -> web.StreamResponse:
    kind = _kind(request)
    posted = await request.post()
    parts = _parts(posted)
    try:
        await templates.save(
            request.app[keys.pool_key], request.app[keys.settings_key], kind, parts,
            _editor(request),
        )  # fmt: skip
    except InvalidInput as exc:
        form = FormInput.prefilled(
            {field: parts[part] for part, field in templates.FIELDS.items()}
            | {"subscriber": posted.get("subscriber", ""), "language": posted.get("language", "")}
        )
        form.refused(exc, field="form")
        return await _editor_page(request, kind, form=form, status=422)
    raise web.HTTPSeeOther(f"/console/templates/{kind}?done=saved")


async def _preview(
    request: web.Request, kind: str, parts: dict[str, str], source: Mapping[str, Any]
) -> dict[str, Any]:
    subscriber, language = _who(source)
    pool, settings = request.app[keys.pool_key], request.app[keys.settings_key]
    try:
        return await templates.preview(
            pool, settings, kind, parts, subscriber=subscriber, language=language
        )
    except NotFound as exc:
        return {"problem": str(exc)[:1].upper() + str(exc)[1:] + ".", "field": "subscriber",
                "subject": "", "html": "", "text": "", "person": None}  # fmt: skip


def _frame(shown: dict[str, Any]) -> web.Response:
    """The preview for the sandboxed frame: the mail's HTML, or why there is none."""
    if shown["problem"]:
        problem = html.escape(shown["problem"])
        text = f"<!doctype html><title>Not previewed</title><p>{problem}</p>"
        page = web.Response(text=text, content_type="text/html")
    else:
        page = web.Response(text=shown["html"], content_type="text/html")
    page.headers["Content-Security-Policy"] = MAIL_PREVIEW_CSP
    page.headers["Cache-Control"] = "no-store"
    return page


@admin_only
async def preview_in_force(request: web.Request) -> web.StreamResponse:
    """The frame's first content: the template in force, as the chosen subscriber."""
    kind = _kind(request)
    found = await templates.in_force(
        request.app[keys.pool_key], request.app[keys.settings_key], kind
    )
    return _frame(await _preview(request, kind, found["parts"], request.query))


@admin_only
async def preview_draft(request: web.Request) -> web.StreamResponse:
    """The draft being edited, posted into the frame (the Preview button, or the page's
    script as the editor types)."""
    kind = _kind(request)
    posted = await request.post()
    return _frame(await _preview(request, kind, _parts(posted), posted))


@admin_only
async def check_draft(request: web.Request) -> web.StreamResponse:
    """For the page's script: the draft's subject, text part and first problem (with its
    line); whether it would be saved (the full check runs only on save)."""
    kind = _kind(request)
    posted = await request.post()
    shown = await _preview(request, kind, _parts(posted), posted)
    person = shown.get("person")
    return web.json_response(
        {
            "subject": shown["subject"],
            "text": shown["text"],
            "problem": shown["problem"],
            "field": shown["field"],
            "as": _as_whom(person, shown.get("language", "")),
        }
    )


def _as_whom(person: Any, language: str) -> str:
    if person is None:
        return "As everyone's copy (no subscriber chosen)"
    who = person["name"] or person["email"]
    topics = ", ".join(person["topic_names"]) or "no topics"
    reads = language_name(language) if language else "English"
    return f"As {who} ({person['email']}), reading in {reads}; their topics: {topics}"


@admin_only
async def version_page(request: web.Request) -> web.StreamResponse:
    kind = _kind(request)
    version_id = path_id(request, "version_id")
    row = await versions.get_version(request.app[keys.pool_key], kind, version_id)
    if row is None:
        raise NotFound(f"no version {version_id} of the {kind} template")
    history = await versions.list_versions(request.app[keys.pool_key], kind, limit=1)
    return render(
        request, "console/mail_template_version.html",
        title=f"{templates.LABELS[kind]} template, version {version_id}", kind=kind,
        label=templates.LABELS[kind], v=row, parts=versions.parts_of(row),
        in_force=bool(history) and history[0]["version_id"] == version_id,
    )  # fmt: skip


@admin_only
async def revert(request: web.Request) -> web.StreamResponse:
    kind = _kind(request)
    version_id = path_id(request, "version_id")
    pool, settings = request.app[keys.pool_key], request.app[keys.settings_key]
    await templates.revert(pool, settings, kind, version_id, _editor(request))
    raise web.HTTPSeeOther(f"/console/templates/{kind}?done=reverted")


@admin_only
async def back_to_default(request: web.Request) -> web.StreamResponse:
    kind = _kind(request)
    pool, settings = request.app[keys.pool_key], request.app[keys.settings_key]
    await templates.back_to_default(pool, settings, kind, _editor(request))
    raise web.HTTPSeeOther(f"/console/templates/{kind}?done=default")
