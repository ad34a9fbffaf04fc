"""A corpus of bounce shapes as real mail servers write them (tests/fixtures/bounces/, one
file per MTA and case, written for this project after the formats seen in the wild), read
as the SMTP receiver reads them: per message, the failed address and the class."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.feedback.parse import ParsedReport, parse_report

CORPUS = Path(__file__).parent.parent / "fixtures" / "bounces"
COUNTED = ("hard", "soft", "block", "complaint")


def _expected() -> list[tuple[str, str, str]]:
    rows = []
    for line in (CORPUS / "expected.tsv").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, address, klass = line.split("\t")
            rows.append((name, address, klass))
    return rows


EXPECTED = _expected()


def verdict(parsed: ParsedReport) -> tuple[str, str]:
    """(address, class) as the corpus table spells them."""
    klass = parsed.outcome or parsed.category
    address = "-" if klass == "autoreply" else (parsed.recipient or "-").lower()
    return address, klass


def test_every_file_of_the_corpus_has_an_expectation_and_back() -> None:
    files = {p.name for p in CORPUS.glob("*.eml")}
    assert files == {name for name, _, _ in EXPECTED}
    assert len(files) >= 60
    kinds = {name.split("_")[0] for name in files}
    for mta in ("postfix", "exim", "qmail", "sendmail", "exchange2010", "office365", "gmail",
                "yahoo", "hotmail", "aol", "lotus", "groupwise", "dsn", "arf",
                "autoreply"):  # fmt: skip
        assert mta in kinds, mta


def test_hit_rate_on_the_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    misses = []
    for name, address, klass in EXPECTED:
        got = verdict(parse_report((CORPUS / name).read_bytes()))
        if got != (address, klass):
            misses.append(f"{name}: expected {address} {klass}, read {got[0]} {got[1]}")
    rate = 1 - len(misses) / len(EXPECTED)
    with capsys.disabled():
        print(f"\nbounce corpus: {len(EXPECTED) - len(misses)}/{len(EXPECTED)} read correctly "
              f"({rate:.1%})")  # fmt: skip
    assert rate >= 0.95, "\n".join(misses)


@pytest.mark.parametrize(("name", "address", "klass"), EXPECTED)
def test_each_message(name: str, address: str, klass: str) -> None:
    parsed = parse_report((CORPUS / name).read_bytes())
    assert verdict(parsed) == (address, klass), parsed.detail
    if klass in ("autoreply", "delayed", "feedback"):
        assert parsed.outcome is None  # kept, never counted
    if klass in COUNTED:
        assert parsed.outcome == klass and parsed.detail


def test_auto_replies_from_a_daemon_address_are_bounces_and_vice_versa() -> None:
    """Bounces carry Auto-Submitted too (RFC 3834 asks them to): it must not hide them."""
    exim = (CORPUS / "exim_user_unknown.eml").read_bytes()
    assert b"Auto-Submitted: auto-replied" in exim
    assert parse_report(exim).outcome == "hard"
    ooo = b"From: a@example.org\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n"
    assert parse_report(ooo).category == "autoreply"


def test_an_unrecognised_message_still_counts_softly() -> None:
    """Mail to a signed bounce address that no reader recognises is still a bounce."""
    odd = (
        b"From: Mailer-Daemon@odd.example.net\r\nSubject: problem\r\n\r\n"
        b"We could not hand over your mail to ivy@odd.example.net today.\r\n"
    )
    parsed = parse_report(odd)
    assert (parsed.category, parsed.recipient) == ("unrecognised", "ivy@odd.example.net")
    assert parsed.outcome == "soft"  # no words that say why: counted, not suppressed at once
    human = b"From: someone@example.org\r\nSubject: hi\r\n\r\nwhat is this?\r\n"
    assert parse_report(human).outcome == "soft"
