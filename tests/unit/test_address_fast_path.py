"""The import's fast address check decides exactly as email-validator does.

normalise_email() takes addresses of the common ASCII shape without email-validator;
every other address goes to it. On a varied sample (ordinary and odd addresses, IDN,
quoted local parts, odd dots and dashes, reserved names, lengths at the limits, random
strings over a nasty alphabet) both must accept the same addresses with the same
normalised form, and refuse the same ones with the same message.
"""

from __future__ import annotations

import random

import pytest
from email_validator import EmailNotValidError, validate_email

from mailer.addresses import _PLAIN, normalise_email

HANDPICKED = [
    "ana.smith.1@example.org",
    "Ana.Smith@Example.ORG",
    "  padded@example.com  ",
    "first+tag@mail.example.net",
    "under_score-dash@ex.co.uk",
    "x@a.io",
    "digits123@123.example.com",
    "a@b.c",
    "a@b.c1",
    "a@b.123",
    "a@localhost",
    "a@host.localhost",
    "a@example.test",
    "a@foo.invalid",
    "a@router.local",
    "a@x.onion",
    "a@1.0.0.10.in-addr.arpa",
    "a@home.arpa",
    "a@example",
    "Postmaster@example.org",
    "ABUSE@Example.org",
    "Info@example.org",
    "information@example.org",
    "a..b@example.org",
    ".a@example.org",
    "a.@example.org",
    "a@.example.org",
    "a@example..org",
    "a@example.org.",
    "a@-example.org",
    "a@example-.org",
    "a@ex--ample.org",
    "a@xn--bcher-kva.example",
    "a@xn--bcher-kva.com",
    "a@XN--BCHER-KVA.com",
    "a@xn--zz.com",
    "a@ab--cd.com",
    "a@bücher.de",
    "a@BÜCHER.de",
    "a@例え.jp",
    "a@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",
    "a@example。com",
    "ñandú@example.org",
    "chloé.garcía@example.org",
    "CHLOÉ.MÜLLER@Example.ORG",
    "ß@example.org",
    "ÿØà@example.org",
    "x\u00d7y@example.org",
    "x\u00f7y@example.org",
    "é" * 64 + "@example.org",
    "é" * 65 + "@example.org",
    "é" * 64 + "@" + ".".join(["b" * 60] * 2) + ".com",
    "a" * 64 + "@" + ".".join(["b" * 61] * 3) + ".co",
    "\uff2a\uff4f\uff48\uff4e@example.org",
    "e\u0301cole@example.org",
    '"quoted"@example.org',
    '"quoted local"@example.org',
    '"a@b"@example.org',
    '"a\\"b"@example.org',
    "a@[192.0.2.1]",
    "a@[IPv6:2001:db8::1]",
    "John Doe <john@example.org>",
    "a b@example.org",
    "a@b@example.org",
    "@example.org",
    "a@",
    "",
    "a",
    "a@example.org\n",
    "a\t@example.org",
    "a@exam_ple.org",
    "o'neil@example.org",
    "a!#$%&'*/=?^`{|}~@example.org",
    "a=b@example.org",
    "a@" + "b" * 63 + ".com",
    "a@" + "b" * 64 + ".com",
    "a" * 64 + "@example.org",
    "a" * 65 + "@example.org",
    "a@" + ".".join(["b" * 63] * 3) + ".com",
    "a@" + ".".join(["b" * 63] * 4) + ".com",
    "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".com",
    "a" * 60 + "@" + ".".join(["b" * 61] * 3) + ".co",
    "a@" + "b" * 10 + "." + "c" * 63,
    "a@" + "b" * 10 + "." + "c" * 64,
    "a@example.c0m",
    "a@example.co-m",
    "a@sub.-x.com",
    "a@x.y-.com",
]

ALPHABET = "aZ09._-+@@..--'\"()<> \u00e9\u0131\u017f\uff0e\u3002#!~[]:\\KüØßÿ\u00d7\u00f7À\u0301"


def _sample(count: int, seed: int = 20261206) -> list[str]:
    rnd = random.Random(seed)
    words = [
        "ana",
        "Bob",
        "x",
        "info",
        "POSTMASTER",
        "a-b",
        "a_b",
        "a+b",
        "9",
        "xn--bcher-kva",
        "chloé",
        "MÜLLER",
        "garcía",
    ]
    tlds = ["org", "COM", "co.uk", "io", "c", "123", "test", "local", "arpa", "invalid", "x1"]
    made = []
    for _ in range(count):
        kind = rnd.random()
        if kind < 0.5:  # plausible addresses with random defects
            local = rnd.choice([".", "-", "+", ""]).join(rnd.sample(words, rnd.randint(1, 3)))
            domain = ".".join(rnd.sample(words, rnd.randint(1, 3))) + "." + rnd.choice(tlds)
            address = f"{local}@{domain}"
            if rnd.random() < 0.3:
                spot = rnd.randrange(len(address) + 1)
                address = address[:spot] + rnd.choice(ALPHABET) + address[spot:]
            if rnd.random() < 0.1:
                address = address.upper()
        else:  # random strings over a nasty alphabet
            address = "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 24)))
            if "@" not in address and rnd.random() < 0.7:
                address += "@example.org"
        made.append(address)
    return made


def email_validator_alone(value: str) -> str:
    """What normalise_email gave before it had a fast path: email-validator's answer."""
    return validate_email(value.strip(), check_deliverability=False).normalized


def _verdict(check, address: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    try:
        return ("ok", check(address))
    except EmailNotValidError as exc:
        return ("refused", str(exc))


@pytest.mark.parametrize("address", HANDPICKED)
def test_handpicked_addresses_decide_alike(address: str) -> None:
    assert _verdict(normalise_email, address) == _verdict(email_validator_alone, address)


def test_a_varied_sample_decides_alike() -> None:
    sample = _sample(30_000)
    fast_taken = accepted = 0
    for address in sample:
        expected = _verdict(email_validator_alone, address)
        assert _verdict(normalise_email, address) == expected, address
        fast_taken += _PLAIN.fullmatch(address.strip()) is not None
        accepted += expected[0] == "ok"
    # The sample exercises both paths: the fast one, and email-validator's refusals.
    assert fast_taken > 2_000
    assert 1_000 < accepted < len(sample) - 1_000


def test_the_fast_path_takes_ordinary_addresses() -> None:
    assert _PLAIN.fullmatch("ana.smith.12345@mail.example.net")
    assert normalise_email("Ana.Smith@Mail.Example.NET") == "Ana.Smith@mail.example.net"
