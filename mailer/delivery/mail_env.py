"""The jinja side of mail templates: where templates come from (versions saved in the
console ahead of the files), the helpers templates call (slot, only_for, end_only), and
template errors named by file and line."""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from mailer.delivery.click_links import plain

# Private-use characters never appear in real content, survive jinja and css-inline, and
# mark where a recipient's values (slots) and conditional blocks (items) go.
OPEN, CLOSE = "\ue000", "\ue001"
SAVED = "saved:"  # the file name jinja gives a template saved in the console


class TemplateProblem(Exception):
    """A template is missing or broken; the message names the file, the line and the
    problem (`template` and `line` too, when known)."""

    def __init__(
        self,
        message: str,
        *,
        template: str | None = None,
        line: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.template = template
        self.line = line
        self.detail = detail or message  # the problem alone, without where


def problem_from(name: str, exc: jinja2.TemplateError) -> TemplateProblem:
    """A jinja error as a TemplateProblem naming the template and line where it happened
    (a syntax error's own line, or the deepest template frame of a rendering error)."""
    where, line = name, None
    if isinstance(exc, jinja2.TemplateNotFound):
        return TemplateProblem(f"template {exc.name} is missing", template=str(exc.name))
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where, line = exc.name or name, exc.lineno
    else:
        # jinja rewrites the traceback so that template frames carry the template's file
        # name (ours: "saved:<name>" or a path) and its line numbers.
        for frame in traceback.extract_tb(exc.__traceback__):
            found = _template_name(frame.filename)
            if found is not None:
                where, line = found, frame.lineno
    message = getattr(exc, "message", None) or str(exc)
    at = f", line {line}" if line else ""
    return TemplateProblem(
        f"template {where}{at}: {message}", template=where, line=line, detail=message
    )


def as_template_error(exc: Exception) -> jinja2.TemplateError:
    """An error a template's own expression raised ({{ 1 / 0 }}), as a jinja error."""
    error = jinja2.TemplateRuntimeError(f"{type(exc).__name__}: {exc}")
    return error.with_traceback(exc.__traceback__)


def _template_name(filename: str) -> str | None:
    if filename.startswith(SAVED):
        return filename[len(SAVED) :]
    marker = filename.replace("\\", "/").rfind("/email/")
    if marker >= 0 and filename.endswith((".html", ".txt")):
        return filename[marker + 1 :]
    return None


class SavedFirst(jinja2.BaseLoader):
    """Templates saved in the console (name -> source), else the files. The mapping is
    replaced in place when newer versions are loaded, and jinja's up-to-date check sees
    it both ways: a changed or removed version reloads, and so does a file template once a
    version of it is saved (a plain ChoiceLoader would keep the cached file)."""

    def __init__(self, saved: Mapping[str, str], files: jinja2.BaseLoader) -> None:
        self.saved = saved
        self.files = files

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        saved = self.saved
        source = saved.get(template)
        if source is not None:
            return source, f"{SAVED}{template}", lambda: saved.get(template) == source
        text, filename, uptodate = self.files.get_source(environment, template)
        return text, filename, lambda: template not in saved and (uptodate is None or uptodate())


# ---------------------------------------------------------------- template helpers


def slot(name: str) -> Markup:
    """Where a per-recipient value goes, e.g. {{ slot('unsubscribe_url') }}."""
    if not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"bad slot name {name!r}")
    return Markup(f"{OPEN}s:{name}{CLOSE}")  # noqa: S704 -- name checked above


def _token(item: Mapping[str, Any]) -> str:
    """An item's condition: its id, or (an item under several topic headings) its id, the
    heading's topic and the item's topics in heading order: it shows under the first
    heading whose topic the reader chose (the first heading if none or unknown)."""
    order = item.get("topic_order") or []
    if len(order) > 1 and item.get("topic_id") is not None:
        return (
            f"{int(item['item_id'])}/{int(item['topic_id'])}/{'.'.join(str(int(t)) for t in order)}"
        )
    return str(int(item["item_id"]))


def condition(what: Any) -> str:
    """only_for's argument as marker text: a section (its items), an item, or item ids."""
    if isinstance(what, Mapping):
        if "items" in what:
            return ",".join(_token(item) for item in what["items"])
        if "item_id" in what:
            return _token(what)
        return ",".join(str(int(i)) for i in what.get("item_ids") or [])
    return ",".join(str(int(i)) for i in what)


Placed = tuple[int, int, tuple[int, ...]]  # item, heading topic, the item's topics in order


def parse_condition(text: str) -> tuple[frozenset[int], tuple[Placed, ...]]:
    """A marker's condition back: plain item ids, and placed items (see _token)."""
    ids: set[int] = set()
    placed: list[Placed] = []
    for token in text.split(","):
        if "/" in token:
            item, topic, order = token.split("/")
            placed.append((int(item), int(topic), tuple(int(t) for t in order.split("."))))
        elif token:
            ids.add(int(token))
    return frozenset(ids), tuple(placed)


def placed_shows(
    ids: frozenset[int],
    placed: tuple[Placed, ...],
    item_ids: frozenset[int] | None,
    topic_ids: frozenset[int] | None,
) -> bool:
    """Whether a block with placed items shows: one of its plain items does, or one of its
    placed items stands under the first heading the reader chose (the first heading when
    their topics are unknown or none fits). A few set lookups per block: the hot path."""
    if ids and (item_ids is None or not item_ids.isdisjoint(ids)):
        return True
    for item, topic, order in placed:
        if item_ids is not None and item not in item_ids:
            continue
        first = order[0]
        if topic_ids is not None:
            first = next((t for t in order if t in topic_ids), first)
        if first == topic:
            return True
    return False


def _only_for(what: Any, *, commented: bool) -> Markup:
    marker = f"{OPEN}if:{condition(what)}{CLOSE}"
    # In HTML a bare text marker inside a table would be moved by the parser; a comment stays.
    return Markup(f"<!--{marker}-->" if commented else marker)  # noqa: S704 -- digits only


def _end_only(*, commented: bool) -> Markup:
    marker = f"{OPEN}end{CLOSE}"
    return Markup(f"<!--{marker}-->" if commented else marker)  # noqa: S704 -- constant


def mail_environments(
    template_dirs: list[Path], saved: MutableMapping[str, str] | None = None
) -> tuple[jinja2.Environment, jinja2.Environment]:
    """(html, text) jinja environments: templates saved in the console first (`saved`,
    shared and updated in place), then the template folders, first folder wins. Sandboxed:
    admins write templates in the console, and a template must not reach Python's insides
    ({{ ''.__class__ }} is refused) nor change the values it is given."""
    loader = SavedFirst(saved if saved is not None else {}, _files(template_dirs))
    html_env = ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    text_env = ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=False,  # plain text, never shown as HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html_env.globals.update(
        track=plain,  # the Composer passes a mailing's own `track` in the context
        slot=slot,
        only_for=lambda what: _only_for(what, commented=True),
        end_only=lambda: _end_only(commented=True),
    )
    text_env.globals.update(
        track=plain,
        slot=slot,
        only_for=lambda what: _only_for(what, commented=False),
        end_only=lambda: _end_only(commented=False),
    )
    return html_env, text_env


def _files(template_dirs: Iterable[Path]) -> jinja2.FileSystemLoader:
    return jinja2.FileSystemLoader([str(d) for d in template_dirs])
