"""A mailing as a page shows it (the archive, previews, notices): the compiled message with
no personal links in it."""

from __future__ import annotations

import binascii
from typing import Any

from mailer.config import Settings
from mailer.delivery.render import MessageCompiler, TemplateProblem
from mailer.errors import Conflict
from mailer.i18n import DEFAULT, translations
from mailer.resources import templates_dir


def render_parts(
    settings: Settings,
    content: dict[str, Any],
    *,
    item_ids: frozenset[int] | None = None,
    name: str | None = None,
    kind: str = "digest",
    language: str = DEFAULT,
) -> tuple[str, str]:
    """(HTML, text) of a digest (or another kind of mailing) as a page shows it: no
    personal links in it."""
    compiler = MessageCompiler([settings.data_dir / "templates", templates_dir()], language)
    catalog = translations(compiler.language)
    org = {
        "name": settings.organisation,
        "postal_address": settings.postal_address,
        "base_url": settings.base_url,
    }
    context = {**content, "org": org, "base_url": settings.base_url}
    try:
        compiled = compiler.compile(
            kind, context, sender=settings.from_address, list_id=None, bulk=True
        )
    except TemplateProblem as problem:
        raise Conflict(f"the {kind} template is broken: {problem}") from problem
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
    html = compiled.html.encode(values, item_ids) if compiled.html else b""
    text = compiled.text.encode(values, item_ids)
    return binascii.a2b_qp(html).decode(), binascii.a2b_qp(text).decode()
