import email
import email.policy
import functools
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.delivery.dkim import dkim_signer
from mailer.delivery.render import (
    CompiledMessage,
    MessageCompiler,
    Recipient,
    TemplateProblem,
    compile_part,
    slot,
)
from mailer.delivery.smtp import _dot_stuffed
from mailer.demo.content import sample_digest_content

TEMPLATES = [Path(__file__).parents[1] / "fixtures" / "templates", Path("templates")]
ORG = {"name": "Health News", "postal_address": "1 Main St, Springfield", "base_url": "https://x"}
VALUES = {
    "greeting": "Hello Zoë,",
    "reason": "You subscribed.",
    "preferences_url": "https://news.example.org/preferences/tok?a=1&b=2",
    "unsubscribe_url": "https://news.example.org/unsubscribe/tok",
}


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@functools.cache
def digest(items_per_topic: int = 2) -> CompiledMessage:
    compiler = MessageCompiler(TEMPLATES)
    return compiler.compile(
        "digest",
        {**sample_digest_content(items_per_topic), "org": ORG},
        sender="Health News <news@health.example.org>",
        list_id="Weekly news <weekly.news.example.org>",
        bulk=True,
    )


def recipient(**changes: object) -> Recipient:
    base: dict[str, object] = {
        "address": "zoe@example.org",
        "name": "Zoë Tester",
        "message_id": "17.digest@health.example.org",
        "date": "Thu, 26 Nov 2026 16:00:00 +0000",
        "values": VALUES,
        "unsubscribe_url": VALUES["unsubscribe_url"],
    }
    base.update(changes)
    return Recipient(**base)  # type: ignore[arg-type]


def test_digest_is_valid_multipart_with_every_list_header() -> None:
    data = digest().build(recipient())
    message = parse(data)
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Health News <news@health.example.org>"
    assert message["To"] == "Zoë Tester <zoe@example.org>"
    assert message["Subject"] == "Weekly public health news"
    assert message["Message-ID"] == "<17.digest@health.example.org>"
    assert message["List-Id"] == "Weekly news <weekly.news.example.org>"
    assert message["List-Unsubscribe"] == "<https://news.example.org/unsubscribe/tok>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["MIME-Version"] == "1.0"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Hello Zoë," in text.get_content()
    html_content = html.get_content()
    # Slot values are escaped in HTML: the & of the link's query string too.
    assert 'href="https://news.example.org/preferences/tok?a=1&amp;b=2"' in html_content
    assert "color: #0b4f8a" in html_content  # CSS was inlined once
    assert "prefers-color-scheme" in html_content  # the dark-mode block was kept
    # Every line is within SMTP's limit and quoted-printable's 76.
    body = data.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_unicode_subject_and_names_are_encoded() -> None:
    compiler = MessageCompiler(TEMPLATES)
    compiled = compiler.compile(
        "digest",
        {**sample_digest_content(1), "org": ORG, "subject": "Überdosis-Prävention — 新闻"},
        sender="Santé publique <news@health.example.org>",
        list_id=None,
        bulk=True,
    )
    data = compiled.build(recipient(name="Δημήτρης Παπαδόπουλος"))
    assert data.isascii()
    message = parse(data)
    assert message["Subject"] == "Überdosis-Prävention — 新闻"
    assert message["From"] == "Santé publique <news@health.example.org>"
    assert message["To"].addresses[0].display_name == "Δημήτρης Παπαδόπουλος"


@pytest.mark.parametrize("name", [None, "Zoë Tester", "Plain Name"])
def test_an_address_with_a_non_ascii_local_part_is_written_as_utf8(name: str | None) -> None:
    # RFC 6532: sent with SMTPUTF8, the address goes into To as UTF-8 (it has no encoding);
    # the display name is still RFC 2047 encoded.
    data = digest().build(recipient(address="josé@exämple.org", name=name))
    message = email.message_from_string(data.decode("utf-8"), policy=email.policy.SMTPUTF8)
    (to,) = message["To"].addresses
    assert (to.addr_spec, to.display_name) == ("josé@exämple.org", name or "")
    (to_line,) = [line for line in data.split(b"\r\n") if line.startswith(b"To: ")]
    assert data.replace(to_line, b"").isascii()  # the address is the only UTF-8 in it


def test_items_are_filtered_per_recipient() -> None:
    compiled = digest(items_per_topic=2)
    everything = parse(compiled.build(recipient())).get_body(("plain",))
    some = parse(compiled.build(recipient(item_ids=frozenset({1, 4})))).get_body(("plain",))
    assert everything is not None
    assert some is not None
    full_text, some_text = everything.get_content(), some.get_content()
    assert "OVERDOSE PREVENTION" in full_text
    assert "ROAD SAFETY" in full_text
    assert "field report 1" in some_text  # item 1 (overdose)
    assert "TOBACCO CONTROL" in some_text  # item 4 is tobacco's second
    assert "ROAD SAFETY" not in some_text  # a topic with none of their items disappears
    assert "Overdose Prevention: field report 2" not in some_text
    html = parse(compiled.build(recipient(item_ids=frozenset({1, 4})))).get_body(("html",))
    assert html is not None
    assert "Road Safety" not in html.get_content()


def test_text_only_recipients_get_a_single_plain_part() -> None:
    message = parse(digest().build(recipient(text_only=True)))
    assert message.get_content_type() == "text/plain"
    assert "Hello Zoë," in message.get_content()


def test_transactional_mail_has_no_list_headers() -> None:
    compiler = MessageCompiler(TEMPLATES)
    compiled = compiler.compile(
        "notice",
        {"org": {**ORG, "name": "lead <b>"}},
        sender="a@example.org",
        list_id=None,
        bulk=False,
    )
    values = {"greeting": "Hi <script>,", "code": "X&Y", "link": "https://x/?a=1&b=2"}
    message = parse(compiled.build(recipient(values=values, unsubscribe_url=None)))
    assert message["List-Unsubscribe"] is None
    assert message["Subject"] == "Notice for lead <b>"
    html = message.get_body(("html",))
    assert html is not None
    assert "Hi &lt;script&gt;," in html.get_content()
    assert "lead &lt;b&gt;" in html.get_content()
    assert 'style="color: #123456;"' in html.get_content()
    plain = message.get_body(("plain",))
    assert plain is not None
    assert "Your code: X&Y" in plain.get_content()


def test_broken_and_missing_templates_are_named() -> None:
    compiler = MessageCompiler(TEMPLATES)
    with pytest.raises(TemplateProblem, match=r"broken/body\.txt"):
        compiler.compile("broken", {"org": ORG}, sender="a@example.org", list_id=None, bulk=False)
    with pytest.raises(TemplateProblem, match="is missing"):
        compiler.compile("nothing", {"org": ORG}, sender="a@example.org", list_id=None, bulk=False)


def test_unbalanced_blocks_are_refused() -> None:
    with pytest.raises(TemplateProblem):
        compile_part("\ue000if:1\ue001\nabc", escape=False)
    with pytest.raises(TemplateProblem):
        compile_part("abc\n\ue000end\ue001", escape=False)
    with pytest.raises(ValueError, match="bad slot name"):
        slot("Bad-Name")


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=120), greeting=st.text(max_size=200))
def test_no_header_injection_whatever_the_name(name: str, greeting: str) -> None:
    compiled = digest(items_per_topic=1)
    data = compiled.build(recipient(name=name, values={**VALUES, "greeting": greeting}))
    message = parse(data)
    assert sorted(message.keys()) == sorted(
        [
            "From",
            "Subject",
            "MIME-Version",
            "List-Id",
            "To",
            "Date",
            "Message-ID",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "Content-Type",
        ]
    )
    assert message["To"].addresses[0].addr_spec == "zoe@example.org"
    assert not message.defects
    body = data.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76


def test_dkim_signature_verifies(tmp_path: Path) -> None:
    import dkim

    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    sign = dkim_signer(key, "mail", "health.example.org")
    data = digest(items_per_topic=1).build(recipient())
    signed = sign(data) + data

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail._domainkey.health.example.org."
        return record

    assert dkim.verify(signed, dnsfunc=dns)
    assert not dkim.verify(
        signed.replace(b"Weekly public health news", b"Weekly public wealth news"), dnsfunc=dns
    )


@pytest.mark.parametrize("text_only", [False, True])
def test_the_wire_form_is_the_message_dot_stuffed(text_only: bool) -> None:
    # The sender writes build(wire=True) to DATA as it is: it must be exactly the message,
    # dot-stuffed (RFC 5321 4.5.2), whatever puts a period first on a line: a value, or a
    # quoted-printable soft break before a URL's dot in the static text.
    url = "https://" + "n" * 67 + ".example.org/a"  # soft break right before the dot
    values = {**VALUES, "greeting": ".Hello " + url, "reason": "." + url}
    for items_per_topic in (1, 4):
        compiled = digest(items_per_topic)
        message = recipient(values=values, text_only=text_only)
        plain = compiled.build(message)
        assert b"\r\n." in plain
        assert compiled.build(message, wire=True) == _dot_stuffed(plain)
    part = compile_part(f".static\n{url}\n..two", escape=False)
    plain = part.encode(values, None)
    assert plain.startswith(b".") and plain.count(b"\r\n.") == 2
    assert b"=\r\n.example.org" in plain
    assert part.encode(values, None, wire=True) == _dot_stuffed(plain)
