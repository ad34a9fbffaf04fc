"""A mailing as a page shows it (the archive, previews, notices): the compiled message with
no personal links in it."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from mailer.config import Settings
from mailer.delivery.compose import duration_words
from mailer.delivery.render import CompiledMessage, MessageCompiler, TemplateProblem
from mailer.errors import Conflict
from mailer.i18n import DEFAULT, translations
from mailer.resources import templates_dir


def page_compiler(
    settings: Settings, language: str = DEFAULT, saved: Mapping[str, str] | None = None
) -> MessageCompiler:
    """A compiler over the data dir's templates, then the bundled ones, with the versions
    saved in the console (`saved`, template name -> source) ahead of both."""
    dirs = [settings.data_dir / "templates", templates_dir()]
    return MessageCompiler(dirs, language, dict(saved) if saved else None)


def compile_for_page(
    compiler: MessageCompiler, settings: Settings, kind: str, content: Mapping[str, Any]
) -> CompiledMessage:
    """A kind's templates with this content and what every mail's context has (org,
    signup terms); TemplateProblem if they do not compile."""
    org = {
        "name": settings.organisation,
        "postal_address": settings.postal_address,
        "base_url": settings.base_url,
    }
    signup = {
        "link_lasts": duration_words(settings.confirm_ttl_seconds, compiler.language),
        "forgotten_after": duration_words(settings.pending_purge_days * 86400.0, compiler.language),
    }
    context = {"signup": signup, **content, "org": org, "base_url": settings.base_url}
    return compiler.compile(
        kind, context, sender=settings.from_address, list_id=None, bulk=kind != "confirm"
    )


def page_parts(
    compiled: CompiledMessage,
    settings: Settings,
    language: str,
    *,
    item_ids: frozenset[int] | None = None,
    topic_ids: frozenset[int] | None = None,
    name: str | None = None,
) -> tuple[str, str]:
    """(HTML, text) of a compiled message for a page: the reader's items, topics and
    greeting, links to the signup page where a mail has personal links."""
    catalog = translations(language)
    values = dict.fromkeys(compiled.slots, f"{settings.base_url}/subscribe") | {
        "greeting": catalog.gettext("Hello %(name)s,") % {"name": name}
        if name
        else catalog.gettext("Hello,"),
        "reason": catalog.gettext(
            "You receive this because you subscribed to %(organisation)s news at %(site)s."
        )
        % {"organisation": settings.organisation, "site": settings.base_url},
        "preferences_url": f"{settings.base_url}/subscribe",
        "unsubscribe_url": f"{settings.base_url}/subscribe",
    }
    html = compiled.html.encode(values, item_ids, topic_ids) if compiled.html else b""
    text = compiled.text.encode(values, item_ids, topic_ids)
    return binascii.a2b_qp(html).decode(), binascii.a2b_qp(text).decode()


def render_parts(
    settings: Settings,
    content: dict[str, Any],
    *,
    item_ids: frozenset[int] | None = None,
    topic_ids: frozenset[int] | None = None,
    name: str | None = None,
    kind: str = "digest",
    language: str = DEFAULT,
    saved: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """(HTML, text) of a digest (or another kind of mailing) as a page shows it: no
    personal links in it. Conflict if the templates in force do not compile."""
    compiler = page_compiler(settings, language, saved)
    try:
        compiled = compile_for_page(compiler, settings, kind, content)
    except TemplateProblem as problem:
        raise Conflict(f"the {kind} template is broken: {problem}") from problem
    return page_parts(
        compiled, settings, compiler.language, item_ids=item_ids, topic_ids=topic_ids, name=name
    )
