"""/dev/outbox: read the mails the development SMTP sink received (development only)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
import re
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

from aiohttp import web

from mailer.embedded import outbox_dir
from mailer.errors import NotFound
from mailer.web import keys
from mailer.web.middleware import MAIL_PREVIEW_CSP

_KEY = re.compile(r"^[A-Za-z0-9._,=-]{1,200}$")
_LIST_LIMIT = 500
# The outbox is the development mail client: a link in a mail opens in a new tab outside the
# sandbox, as a webmail's does, so that a confirmation link can be followed from it. Scripts,
# forms and same-origin access stay off inside the mail.
OUTBOX_MAIL_CSP = MAIL_PREVIEW_CSP.replace(
    "sandbox;", "sandbox allow-popups allow-popups-to-escape-sandbox;", 1
)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_NEW_TAB = '<base target="_blank">'


@dataclass(frozen=True)
class OutboxEntry:
    key: str
    subject: str
    sender: str
    recipients: str
    date: str
    size: int


def _open(data_dir: Path) -> mailbox.Maildir:
    return mailbox.Maildir(outbox_dir(data_dir), create=True)


_MAILDIR_KEY = re.compile(r"^(\d+)\.M(\d+)P\d+Q(\d+)\.")


def maildir_order(key: str) -> tuple[int, int, int, str]:
    """Chronological: Python's Maildir keys are <seconds>.M<microseconds>P<pid>Q<count>."""
    match = _MAILDIR_KEY.match(key)
    if match is None:
        return (0, 0, 0, key)
    seconds, micros, count = (int(g) for g in match.groups())
    return (seconds, micros, count, key)


def list_entries(data_dir: Path, limit: int = _LIST_LIMIT) -> list[OutboxEntry]:
    """Newest first; headers only, so a large outbox stays quick to list."""
    box = _open(data_dir)
    keys = sorted(box.keys(), key=maildir_order, reverse=True)[:limit]
    entries = []
    for key in keys:
        try:
            raw = box.get_bytes(key)
        except KeyError:  # removed meanwhile
            continue
        head = email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0], policy=email.policy.default)
        entries.append(
            OutboxEntry(
                key=key,
                subject=str(head.get("Subject", "(no subject)")),
                sender=str(head.get("From", "")),
                recipients=", ".join(str(v) for v in head.get_all("Delivered-To", [])),
                date=str(head.get("Date", "")),
                size=len(raw),
            )
        )
    return entries


def load_message(data_dir: Path, key: str) -> tuple[bytes, EmailMessage]:
    if not _KEY.match(key):
        raise NotFound("No such mail in the outbox")
    try:
        raw = _open(data_dir).get_bytes(key)
    except KeyError as exc:
        raise NotFound("No such mail in the outbox") from exc
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return raw, message


def _part_text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


class _Links(HTMLParser):
    """The http(s) links of a mail's HTML with their text, in order, each address once."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self._href = href if href.startswith(("http://", "https://")) else None
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.found.setdefault(self._href, " ".join("".join(self._text).split()))
            self._href = None


def mail_links(html: str) -> list[tuple[str, str]]:
    """(text, address) of every link in the mail: the page lists them so they can be
    followed (the mail itself is shown in a sandbox, where links do not open)."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    return [(text or href, href) for href, text in parser.found.items()]


def _data_dir(request: web.Request) -> Path:
    return request.app[keys.settings_key].data_dir


def _render(request: web.Request, name: str, **context: object) -> web.Response:
    settings = request.app[keys.settings_key]
    html = (
        request.app[keys.pages_key]
        .get_template(name)
        .render(org=settings.organisation, logo_url=settings.logo_url, **context)
    )
    return web.Response(text=html, content_type="text/html")


async def list_page(request: web.Request) -> web.Response:
    entries = await asyncio.to_thread(list_entries, _data_dir(request))
    return _render(request, "web/outbox_list.html", title="Development outbox", entries=entries)


async def list_json(request: web.Request) -> web.Response:
    entries = await asyncio.to_thread(list_entries, _data_dir(request))
    return web.json_response({"messages": [asdict(e) for e in entries]})


async def clear(request: web.Request) -> web.Response:
    def empty() -> None:
        box = _open(_data_dir(request))
        for key in list(box.keys()):
            box.discard(key)

    await asyncio.to_thread(empty)
    raise web.HTTPSeeOther(request.app.router["outbox"].url_for())


async def message_page(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    raw, message = await asyncio.to_thread(load_message, _data_dir(request), key)
    html = _part_text(message, "html")
    return _render(
        request,
        "web/outbox_message.html",
        title=str(message.get("Subject", "(no subject)")),
        key=key,
        headers=list(message.items()),
        has_html=html is not None,
        links=mail_links(html) if html is not None else [],
        text=_part_text(message, "plain"),
        size=len(raw),
    )


async def message_html(request: web.Request) -> web.Response:
    _, message = await asyncio.to_thread(
        load_message, _data_dir(request), request.match_info["key"]
    )
    html = _part_text(message, "html")
    if html is None:
        raise NotFound("This mail has no HTML part")
    head = _HEAD.search(html)
    at = head.end() if head else 0
    response = web.Response(text=html[:at] + _NEW_TAB + html[at:], content_type="text/html")
    response.headers["Content-Security-Policy"] = OUTBOX_MAIL_CSP
    return response


async def message_text(request: web.Request) -> web.Response:
    _, message = await asyncio.to_thread(
        load_message, _data_dir(request), request.match_info["key"]
    )
    text = _part_text(message, "plain")
    if text is None:
        raise NotFound("This mail has no plain-text part")
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def message_raw(request: web.Request) -> web.Response:
    raw, _ = await asyncio.to_thread(load_message, _data_dir(request), request.match_info["key"])
    return web.Response(body=raw, content_type="text/plain", charset="utf-8")
