"""Mail rendering: templates compiled once per message kind or mailing, spliced per recipient.

Rendering a 30 KB digest with jinja and building a MIME tree with `email` costs milliseconds
per recipient; here the template is rendered once with markers where per-recipient values
go, CSS is inlined once, every static line is quoted-printable encoded once, and a
recipient's message is a join of ready bytes plus the few lines that carry their values.
"""

from __future__ import annotations

import binascii
import html
import re
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr
from pathlib import Path
from typing import Any

import css_inline
import jinja2

from mailer.delivery.mail_env import (
    CLOSE,
    OPEN,
    Placed,
    as_template_error,
    mail_environments,
    parse_condition,
    placed_shows,
    problem_from,
)
from mailer.delivery.mail_env import TemplateProblem as TemplateProblem
from mailer.delivery.mail_env import slot as slot
from mailer.i18n import DEFAULT, install, language_of

_MARKER = re.compile(f"{OPEN}([^{CLOSE}]*){CLOSE}")
_COMMENTED = re.compile(f"<!--\\s*({OPEN}[^{CLOSE}]*{CLOSE})\\s*-->")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_CRLF = b"\r\n"
# A display name with one of these is quoted by formataddr (email.utils.specialsre).
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def clean_header_text(value: str) -> str:
    """Header values never carry line breaks or control characters: no header injection."""
    return _CONTROL.sub(" ", value).strip()


# ---------------------------------------------------------------- compiled parts


@dataclass(frozen=True, slots=True)
class _Static:
    encoded: bytes  # quoted-printable, CRLF line ends
    wire: bytes  # the same, dot-stuffed for DATA (see _wire)


@dataclass(frozen=True, slots=True)
class _Line:
    form: str  # the line's literal text as a %-format, a %s where each slot's value goes
    names: tuple[str, ...]  # the slots, in order


@dataclass(frozen=True, slots=True)
class _If:
    ids: frozenset[int]
    placed: tuple[Placed, ...]  # items under several headings: shown under one
    skip_to: int  # index after the matching end


_Op = _Static | _Line | _If | None  # None: the end of a conditional block


def _wire(lines: bytes) -> bytes:
    """Whole CRLF lines as SMTP's DATA carries them: a line starting with a period gets
    one more (RFC 5321 4.5.2). Quoted-printable soft breaks put a period first now and then
    (a URL's dot): stuffed here, once per mailing for the static text, instead of a search
    and copy of every 40 KB message on the wire."""
    stuffed = lines.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def _qp_line(line: str) -> bytes:
    """One line, quoted-printable, CRLF-terminated. The CRLF goes in before encoding so
    that soft line breaks use CRLF too (b2a_qp copies the line ending it sees)."""
    return binascii.b2a_qp((line + "\r\n").encode(), istext=True)


@dataclass(frozen=True)
class CompiledPart:
    ops: tuple[_Op, ...]
    escape: bool  # HTML-escape slot values
    slots: frozenset[str]

    def encode(
        self,
        values: Mapping[str, str],
        item_ids: frozenset[int] | None,
        topic_ids: frozenset[int] | None = None,
        *,
        wire: bool = False,
    ) -> bytes:
        """The part's quoted-printable body for one recipient (their items and topics);
        dot-stuffed for SMTP's DATA with `wire`."""
        out: list[bytes] = []
        # A value is one line of text: control characters (line breaks included) become
        # spaces, so it can neither break the encoding nor add lines. Each value is cleaned
        # once (a confirmation link stands three times in the HTML); a value the templates
        # need and the recipient lacks is a KeyError where a line uses it, as before.
        sub = _CONTROL.sub
        clean = {
            name: html.escape(sub(" ", values[name])) if self.escape else sub(" ", values[name])
            for name in self.slots
            if name in values
        }
        ops = self.ops
        i, end = 0, len(ops)
        while i < end:
            op = ops[i]
            if type(op) is _Static:
                out.append(op.wire if wire else op.encoded)
            elif type(op) is _Line:
                text = op.form % tuple([clean[name] for name in op.names])
                line = _qp_line(text.rstrip())
                out.append(_wire(line) if wire and b"." in line else line)
            elif type(op) is _If and (
                not placed_shows(op.ids, op.placed, item_ids, topic_ids)
                if op.placed
                else item_ids is not None and item_ids.isdisjoint(op.ids)
            ):
                i = op.skip_to
                continue
            i += 1
        return b"".join(out)


def compile_part(rendered: str, *, escape: bool) -> CompiledPart:
    """Turn rendered text with markers into ops; static runs are encoded here, once."""
    text = _COMMENTED.sub(r"\1", rendered.replace("\r\n", "\n"))
    if text.endswith("\n"):
        text = text[:-1]
    ops: list[_Op] = []
    static: list[str] = []
    open_ifs: list[int] = []
    slots: set[str] = set()

    def flush() -> None:
        if static:
            encoded = b"".join(_qp_line(line) for line in static)
            ops.append(_Static(encoded, _wire(encoded)))
            static.clear()

    for raw_line in text.split("\n"):
        # A conditional marker always stands on a line of its own (split around it).
        for chunk in _split_keeping_blocks(raw_line):
            block = _block_marker(chunk)
            if block is not None:
                flush()
                if block == "end":
                    if not open_ifs:
                        raise TemplateProblem("end_only() without only_for()")
                    start = open_ifs.pop()
                    ops.append(None)
                    current = ops[start]
                    assert isinstance(current, _If)
                    ops[start] = _If(current.ids, current.placed, len(ops))
                else:
                    open_ifs.append(len(ops))
                    ops.append(_If(*parse_condition(block), skip_to=-1))
                continue
            line = chunk.rstrip()
            if OPEN not in line:
                if line or not static or static[-1]:  # never two blank lines in a row
                    static.append(line)
                continue
            flush()
            form: list[str] = []
            names: list[str] = []
            position = 0
            for match in _MARKER.finditer(line):
                form.append(line[position : match.start()].replace("%", "%%"))
                kind, _, name = match.group(1).partition(":")
                if kind != "s":
                    raise TemplateProblem(f"unexpected marker {match.group(1)!r}")
                form.append("%s")
                names.append(name)
                slots.add(name)
                position = match.end()
            form.append(line[position:].replace("%", "%%"))
            ops.append(_Line("".join(form), tuple(names)))
    flush()
    if open_ifs:
        raise TemplateProblem("only_for() without end_only()")
    return CompiledPart(ops=tuple(ops), escape=escape, slots=frozenset(slots))


_BLOCK = re.compile(f"({OPEN}(?:if:[0-9,/.]*|end){CLOSE})")


def _split_keeping_blocks(line: str) -> list[str]:
    chunks = _BLOCK.split(line)
    return chunks if len(chunks) == 1 else [chunk for chunk in chunks if chunk.strip()]


def _block_marker(chunk: str) -> str | None:
    match = _BLOCK.fullmatch(chunk.strip())
    if not match:
        return None
    body = match.group(1)[1:-1]
    return "end" if body == "end" else body[3:]


# ---------------------------------------------------------------- whole messages


@dataclass(frozen=True)
class Recipient:
    """Everything about one recipient that goes into their copy of a message."""

    address: str
    name: str | None
    message_id: str  # without angle brackets
    date: str  # RFC 5322 date
    values: Mapping[str, str]  # slot values
    item_ids: frozenset[int] | None = None  # None: every item
    topic_ids: frozenset[int] | None = (
        None  # the topics they chose (which heading an item is under)
    )
    unsubscribe_url: str | None = None  # list mail: List-Unsubscribe (one-click)
    unsubscribe_mailto: str | None = None  # its mailto: fallback (an address, no "mailto:")
    text_only: bool = False


@dataclass(frozen=True)
class CompiledMessage:
    """A message with everything but the recipient's parts done."""

    kind: str
    head: bytes  # From, Subject, List-Id, ... (encoded, CRLF-terminated lines)
    text: CompiledPart
    html: CompiledPart | None
    boundary: bytes
    bulk: bool

    @property
    def slots(self) -> frozenset[str]:
        return self.text.slots | (self.html.slots if self.html else frozenset())

    def build(self, recipient: Recipient, *, wire: bool = False) -> bytes:
        """The full RFC 5322 message for one recipient, CRLF line ends throughout; with
        `wire`, dot-stuffed as SMTP's DATA carries it (no header line starts with a period:
        each starts with its name, a folded one with a space)."""
        head = [self.head, b"To: ", _address_header(recipient.address, recipient.name), _CRLF]
        head += [b"Date: ", recipient.date.encode(), _CRLF]
        head += [b"Message-ID: <", clean_header_text(recipient.message_id).encode(), b">", _CRLF]
        if recipient.unsubscribe_url is not None:
            url = clean_header_text(recipient.unsubscribe_url).encode()
            head += [b"List-Unsubscribe: <", url, b">"]
            if recipient.unsubscribe_mailto is not None:
                mailto = clean_header_text(recipient.unsubscribe_mailto).encode()
                head += [b",", _CRLF, b" <mailto:", mailto, b"?subject=unsubscribe>"]
            head += [_CRLF]
            head += [b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", _CRLF]
        text = self.text.encode(
            recipient.values, recipient.item_ids, recipient.topic_ids, wire=wire
        )
        if self.html is None or recipient.text_only:
            head += [_TEXT_HEADERS, _CRLF, text]
            return b"".join(head)
        html_body = self.html.encode(
            recipient.values, recipient.item_ids, recipient.topic_ids, wire=wire
        )
        b = self.boundary
        return b"".join(
            [
                *head,
                b'Content-Type: multipart/alternative; boundary="',
                b,
                b'"',
                _CRLF,
                _CRLF,
                b"--" + b + _CRLF,
                _TEXT_HEADERS,
                _CRLF,
                text,
                b"--" + b + _CRLF,
                _HTML_HEADERS,
                _CRLF,
                html_body,
                b"--" + b + b"--" + _CRLF,
            ]
        )


_TEXT_HEADERS = (
    b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
)
_HTML_HEADERS = (
    b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
)


def _address_header(address: str, name: str | None) -> bytes:
    """To: value with the display name encoded (RFC 2047) and no way to inject a header.
    An address with a non-ASCII local part (sent with SMTPUTF8) is written as UTF-8, as
    RFC 6532 has it: no encoding of the address itself exists."""
    display = clean_header_text(name or "")
    address = clean_header_text(address)
    if display.isascii() and address.isascii() and not _SPECIALS.search(display):
        # What formataddr gives for such a name (no encoding, no quoting), without its
        # checks and encodings per message.
        return f"{display} <{address}>".encode() if display else address.encode()
    if address.isascii():
        value = formataddr((display, address), charset="utf-8")
    elif display:  # formataddr refuses such an address: encode the name around a stand-in
        value = formataddr((display, "a@a"), charset="utf-8")[: -len("<a@a>")] + f"<{address}>"
    else:
        value = address
    return value.replace("\n", "\r\n").encode()


def static_head(
    *, sender: str, subject: str, list_id: str | None, extra: Mapping[str, str] | None = None
) -> bytes:
    """The headers every copy shares, encoded once with the standard library."""
    message = EmailMessage(policy=SMTP.clone(max_line_length=78))
    message["From"] = clean_header_text(sender)
    message["Subject"] = clean_header_text(subject)
    message["MIME-Version"] = "1.0"
    if list_id is not None:
        message["List-Id"] = clean_header_text(list_id)
    for key, value in (extra or {}).items():
        message[key] = clean_header_text(value)
    return message.as_bytes().split(b"\r\n\r\n", 1)[0] + _CRLF


class MessageCompiler:
    """Compiles a kind's templates (templates/email/<kind>/) with a context, once per
    language: each language has its own pair of environments with its catalog. `saved`
    (template name -> source, versions saved in the console) comes before the files; all
    languages share it, and whoever loads newer versions replaces its contents in place."""

    def __init__(
        self,
        template_dirs: list[Path],
        language: str = DEFAULT,
        saved: MutableMapping[str, str] | None = None,
    ) -> None:
        self.template_dirs = template_dirs
        self.language = language_of(language)
        self.saved: MutableMapping[str, str] = saved if saved is not None else {}
        self.html_env, self.text_env = mail_environments(template_dirs, self.saved)
        install(self.html_env, self.language)
        install(self.text_env, self.language)
        self._others: dict[str, MessageCompiler] = {}
        # Media queries (dark mode, phones) cannot be inlined: templates put them in a
        # <style data-css-inline="keep"> block, which css-inline leaves in place.
        self.inliner = css_inline.CSSInliner(keep_style_tags=False, keep_link_tags=False)

    def in_language(self, language: str | None) -> MessageCompiler:
        """The compiler for a reader's language (this one for its own), built once."""
        code = language_of(language)
        if code == self.language:
            return self
        other = self._others.get(code)
        if other is None:
            other = self._others[code] = MessageCompiler(self.template_dirs, code, self.saved)
            other.inliner = self.inliner
        return other

    def compile(
        self,
        kind: str,
        context: Mapping[str, Any],
        *,
        sender: str,
        list_id: str | None,
        bulk: bool,
        extra: Mapping[str, str] | None = None,
    ) -> CompiledMessage:
        subject = " ".join(
            self._render(self.text_env, f"email/{kind}/subject.txt", context).split()
        )
        context = {**context, "subject": subject}  # the HTML <title>, a digest heading
        text = compile_part(
            self._render(self.text_env, f"email/{kind}/body.txt", context), escape=False
        )
        html_part = None
        if self._exists(f"email/{kind}/body.html"):
            rendered = self._render(self.html_env, f"email/{kind}/body.html", context)
            try:
                inlined = self.inliner.inline(rendered)
            except ValueError as exc:
                raise TemplateProblem(
                    f"email/{kind}/body.html: CSS could not be inlined: {exc}"
                ) from exc
            html_part = compile_part(inlined, escape=True)
        return CompiledMessage(
            kind=kind,
            head=static_head(sender=sender, subject=subject, list_id=list_id, extra=extra),
            text=text,
            html=html_part,
            boundary=f"=_mailer_{secrets.token_hex(12)}".encode(),
            bulk=bulk,
        )

    def _exists(self, name: str) -> bool:
        try:
            self.text_env.get_template(name)
        except jinja2.TemplateNotFound:
            return False
        except jinja2.TemplateError:
            return True  # there but broken: rendering it says where
        return True

    @staticmethod
    def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> str:
        try:
            return env.get_template(name).render(context)
        except jinja2.TemplateError as exc:
            raise problem_from(name, exc) from exc
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            # What a template's own expressions can raise ({{ 1 / 0 }}, a bad filter call).
            raise problem_from(name, as_template_error(exc)) from exc
