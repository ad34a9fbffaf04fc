"""Every mail kind as it goes out, scored by Debian's SpamAssassin (local tests only: no
network rules) and verified by an independent DKIM implementation (Perl's Mail::DKIM, the
library of SpamAssassin's DKIM plugin) against a key served by a DNS stub on loopback.
`make test` installs both (the `mail-deps` target)."""

from __future__ import annotations

import base64
import email
import email.policy
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mailer.delivery.dkim import dkim_signer
from mailer.delivery.smtp import _dot_stuffed
from mailer.demo.content import DEMO_TOPICS
from tests.support.deliverability import KINDS, compose_every_kind, render_every_kind
from tests.support.dns_stub import dns_stub
from tests.support.factories import engine_settings

VERIFY = Path(__file__).parents[1] / "support" / "dkim_verify.pl"
SELECTOR, DOMAIN = "mail", "health.example.org"
RULE = re.compile(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s+(.*)$")

needs_spamassassin = pytest.mark.skipif(
    shutil.which("spamassassin") is None and not Path("/usr/bin/spamassassin").exists(),
    reason="Debian's spamassassin is not installed (make mail-deps)",
)


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    key = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, base64.b64encode(public).decode()


@pytest.fixture(scope="module")
def mails(
    tmp_path_factory: pytest.TempPathFactory, dkim_key: tuple[Path, str]
) -> dict[str, dict[str, bytes]]:
    """'signed' and 'unsigned' -> kind -> message."""
    settings = engine_settings(tmp_path_factory.mktemp("data"))
    signer = dkim_signer(dkim_key[0], SELECTOR, DOMAIN)
    return {
        "unsigned": render_every_kind(settings),
        "signed": render_every_kind(settings, dkim=signer),
    }


def spamassassin_all(messages: list[bytes]) -> list[tuple[float, list[tuple[float, str, str]]]]:
    """[(score, [(points, rule, description)])] per message from one `spamassassin -L -t
    --mbox` (local tests): one Perl start (~2.5 s) for all of them, not one each."""
    mbox = b"".join(
        b"From mailer@example.org Sat Dec  5 00:00:00 2026\n"
        + re.sub(rb"(?m)^(>*From )", rb">\1", message.replace(b"\r\n", b"\n"))
        + b"\n"
        for message in messages
    )
    report = subprocess.run(
        ["spamassassin", "-L", "-t", "--mbox"], input=mbox, capture_output=True, timeout=300,
        check=True,
    ).stdout.decode("utf-8", "replace")  # fmt: skip
    details = report.split("Content analysis details:")[1:]
    assert len(details) == len(messages), report[-2000:]
    results = []
    for detail in details:
        score = float(re.search(r"\((-?\d+\.\d+) points", detail).group(1))  # type: ignore[union-attr]
        rules = [(float(m.group(1)), m.group(2), m.group(3))
                 for m in map(RULE.match, detail.splitlines()) if m]  # fmt: skip
        results.append((score, rules))
    return results


def spamassassin(message: bytes) -> tuple[float, list[tuple[float, str, str]]]:
    return spamassassin_all([message])[0]


@needs_spamassassin
@pytest.mark.timeout(600)
@pytest.mark.parametrize("signed", ["unsigned", "signed"])
def test_every_kind_scores_zero_or_less_with_spamassassin(
    mails: dict[str, dict[str, bytes]], signed: str
) -> None:
    scores = {}
    reports = spamassassin_all([mails[signed][kind] for kind in KINDS])
    for kind, (score, rules) in zip(KINDS, reports, strict=True):
        print(f"{kind} ({signed}): {score:+.1f}")
        for points, rule, description in rules:
            print(f"  {points:+.1f} {rule}: {description}")
        scores[kind] = (score, rules)
    too_high = {kind: found for kind, found in scores.items() if found[0] > 0.0}
    assert not too_high, too_high


@needs_spamassassin
def test_spamassassin_scores_a_low_contrast_preheader(mails: dict[str, dict[str, bytes]]) -> None:
    """The check can fail: the old preheader (coloured like the background) is caught."""
    sneaky = mails["unsigned"]["confirm"].replace(
        b"mso-hide: all", b"color: #ffffff; background: #ffffff", 1
    )
    assert sneaky != mails["unsigned"]["confirm"]
    _, rules = spamassassin(sneaky)
    assert "HTML_FONT_LOW_CONTRAST" in {rule for _, rule, _ in rules}, rules


def verify(message: bytes, port: int) -> list[str]:
    out = subprocess.run(
        ["perl", str(VERIFY), str(port)], input=message, capture_output=True, timeout=60
    )
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode().splitlines()


@pytest.mark.skipif(
    subprocess.run(["perl", "-MMail::DKIM", "-e", "1"], capture_output=True).returncode != 0,
    reason="Perl's Mail::DKIM is not installed (make mail-deps)",
)
def test_every_kind_verifies_with_mail_dkim_and_over_signs(
    mails: dict[str, dict[str, bytes]], dkim_key: tuple[Path, str]
) -> None:
    record = f'"v=DKIM1; k=rsa; p={dkim_key[1]}"'
    # A TXT string is at most 255 bytes: split the record into chunks of one TXT record.
    chunks = " ".join(f'"{record[1:-1][i : i + 200]}"' for i in range(0, len(record) - 2, 200))
    with dns_stub({(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT"): [chunks]}) as (_, port):
        for kind in KINDS:
            message = mails["signed"][kind]
            (line,) = verify(message, port)
            print(kind, line)
            assert line.startswith(f"pass d={DOMAIN} c=relaxed/relaxed "), line
            signed = line.split(" h=", 1)[1].split(" ", 1)[0].lower().split(":")
            for header in ("from", "subject", "to", "date", "message-id"):
                assert signed.count(header) == 2, (kind, header, signed)  # over-signed
            parsed = email.message_from_bytes(message, policy=email.policy.default)
            for header in ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"):
                if parsed[header] is not None:
                    assert signed.count(header.lower()) == 2, (kind, header, signed)
            # A copied-and-altered header does not verify: a second Subject, a second From.
            head, body = message.split(b"\r\n\r\n", 1)
            for added in (b"Subject: You won a prize", b"From: Bank <help@bank.example>"):
                (forged,) = verify(head + b"\r\n" + added + b"\r\n\r\n" + body, port)
                assert forged.startswith("fail"), (kind, added, forged)
            (unsigned,) = verify(mails["unsigned"][kind], port)
            assert unsigned == "none"


def test_every_kind_carries_the_headers_of_large_senders(
    mails: dict[str, dict[str, bytes]],
) -> None:
    for kind in KINDS:
        message = email.message_from_bytes(mails["unsigned"][kind], policy=email.policy.default)
        assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", message["Date"])
        assert re.fullmatch(
            rf"<\d+\.{kind}\.[a-z2-7]{{24}}@health\.example\.org>", message["Message-ID"]
        )
        assert message["Feedback-ID"].endswith(":health.example.org"), kind
        assert message["Feedback-ID"].split(":")[1] == kind
        automatic = kind in ("confirm", "welcome", "already_subscribed")
        assert (message["Auto-Submitted"] == "auto-generated") is automatic, kind
        listed = kind not in ("confirm", "already_subscribed")
        assert (message["List-Unsubscribe"] is not None) is listed, kind
        assert (message["List-Archive"] == "<https://news.example.org/archive>") is listed, kind
        html = message.get_body(("html",))
        text = message.get_body(("plain",))
        assert html is not None and text is not None
        if listed:
            https, mailto = (part.strip() for part in message["List-Unsubscribe"].split(","))
            assert https.startswith("<https://news.example.org/unsubscribe/")
            assert re.fullmatch(
                r"<mailto:unsubscribe\+\d+-[a-z2-7]{8}@health\.example\.org\?subject=unsubscribe>",
                mailto,
            )
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            link = https.strip("<>").replace("/unsubscribe/alerts/", "/unsubscribe/")
            assert link.rsplit("/", 1)[1] in text.get_content(), kind  # the text part too
        assert "<h1" in html.get_content(), kind
        assert "color: #f3f5f7" not in html.get_content().split("</head>", 1)[1]
    digest = email.message_from_bytes(mails["unsigned"]["digest"], policy=email.policy.default)
    html = digest.get_body(("html",)).get_content()  # type: ignore[union-attr]
    topics = len(DEMO_TOPICS)  # three stories each
    assert html.count("<h2") == topics and html.count("<h3") == 3 * topics  # topic, title


def test_reply_to_is_sent_when_set(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path, reply_to="Newsdesk <desk@health.example.org>")
    for kind, data in render_every_kind(settings).items():
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert message["Reply-To"] == "Newsdesk <desk@health.example.org>", kind
    plain = render_every_kind(engine_settings(tmp_path))["digest"]
    assert b"Reply-To" not in plain


def test_every_kind_on_the_wire_is_the_message_dot_stuffed(
    tmp_path: Path, dkim_key: tuple[Path, str]
) -> None:
    # What the worker writes to DATA as it is: every kind, byte for byte the message
    # dot-stuffed (the Date may tick between the two builds); a DKIM-signed one is left to
    # the connection to stuff, its signature being over the message itself.
    def undated(data: bytes) -> bytes:
        return re.sub(rb"\r\nDate: [^\r]*", b"", data)

    settings = engine_settings(tmp_path)
    composed = compose_every_kind(settings)
    for plain, wire in composed.values():
        assert wire.stuffed and not plain.stuffed
        assert undated(wire.data) == undated(_dot_stuffed(plain.data))
    assert any(wire.data != plain.data for plain, wire in composed.values())  # lines with a dot
    signer = dkim_signer(dkim_key[0], SELECTOR, DOMAIN)
    for plain, wire in compose_every_kind(settings, signer).values():
        assert not wire.stuffed and not plain.stuffed
        assert wire.data.startswith(b"DKIM-Signature")
