"""The ordinary-address fast path of normalise_email decides exactly as email-validator."""

import random
import string

import pytest
from email_validator import EmailNotValidError, validate_email

from mailer.addresses import normalise_email, ordinary_address

EDGES = [
    "a@example.org",
    "First.Last@Example.ORG",
    "bench-m-12345@example.org",
    "x_y+tag@sub.domain.co.uk",
    "a@b.co",
    "a@x.y",  # a one-letter TLD: valid, but left to email-validator
    "a@b.c0m",
    "a@123.example",
    "a@1.2.3.4",
    "a@localhost",
    "a@mail.test",
    "a@TEST",
    "a@printer.local",
    "a@x.onion",
    "a@x.invalid",
    "a@in-addr.arpa",
    "a@xn--bcher-kva.example",
    "a@xn--zz.example",
    "a@ab--cd.example",
    "a@-lead.example",
    "a@trail-.example",
    "a@exa_mple.org",
    "a..b@example.org",
    ".a@example.org",
    "a.@example.org",
    "a@example..org",
    "a@.example.org",
    "a@example.org.",
    "@example.org",
    "a@",
    "a",
    "a@@example.org",
    "a b@example.org",
    "josé@example.org",
    "a@exämple.org",
    "o'neil@example.ie",
    '"quoted"@example.org',
    "a@[192.0.2.1]",
    "l" * 64 + "@example.org",
    "l" * 65 + "@example.org",
    "a@" + ".".join(["d" * 63] * 3) + ".org",
    "a@" + "d" * 64 + ".org",
    "a@" + ".".join(["d" * 60] * 4) + ".org",  # 250 characters after the @
    "ab@" + ".".join(["d" * 61] * 4) + ".or",  # 254 in all
    "abc@" + ".".join(["d" * 61] * 4) + ".or",  # 255 in all
    "a@example.o",
    "a@example." + "a" * 63,
    "a@example." + "a" * 64,
    "a-b_c.d+e@e-x.a-m.ple.org",
]


def sample(n: int = 4000) -> list[str]:
    rnd = random.Random(23)
    pieces = string.ascii_letters + string.digits + "._+-!#$%&'*/=?^`{|}~\"() <>@[]\\,;:é"
    domains = ["example.org", "Example.COM", "mail.test", "xn--bcher-kva.ch", "b.c0", "co", "a.b"]
    out = []
    for _ in range(n):
        local = "".join(
            rnd.choice(pieces[: rnd.choice([62, 66, len(pieces)])])
            for _ in range(rnd.randint(1, 70))
        )
        if rnd.random() < 0.5:
            domain = rnd.choice(domains)
        else:
            labels = [
                "".join(
                    rnd.choice(string.ascii_letters + string.digits + "-_")
                    for _ in range(rnd.randint(1, 64))
                )
                for _ in range(rnd.randint(1, 5))
            ]
            domain = ".".join(labels)
        out.append(f"{local}@{domain}")
    return out


def plausible(n: int = 3000) -> list[str]:
    """Addresses that mostly look ordinary, near the limits now and then."""
    rnd = random.Random(60)
    alnum = string.ascii_letters + string.digits
    out = []
    for _ in range(n):
        parts = [
            "".join(rnd.choice(alnum) for _ in range(rnd.randint(1, 20)))
            for _ in range(rnd.randint(1, 4))
        ]
        local = "".join(p + rnd.choice("._+-") for p in parts[:-1]) + parts[-1]
        if rnd.random() < 0.05:
            local = local + rnd.choice(["..x", ".", "-", "é", "'"])
        labels = [
            "".join(rnd.choice(alnum + "-") for _ in range(rnd.randint(1, 63)))
            for _ in range(rnd.randint(1, 4))
        ]
        tld = rnd.choice(["org", "COM", "io", "test", "local", "x", "c0m", "museum", "a" * 63])
        out.append(f"{local}@{'.'.join(labels)}.{tld}")
    return out


def validator(address: str) -> str | None:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@pytest.mark.parametrize(
    ("addresses", "least"),
    [(EDGES, 10), (sample(), 50), (plausible(), 500)],
    ids=["edges", "random", "plausible"],
)
def test_the_fast_path_gives_email_validators_answer_or_none(
    addresses: list[str], least: int
) -> None:
    taken = 0
    for address in addresses:
        fast = ordinary_address(address)
        if fast is not None:
            taken += 1
            assert fast == validator(address), address
        try:
            ours: str | None = normalise_email(address)
        except EmailNotValidError:
            ours = None
        assert ours == validator(address.strip()), address
    assert taken >= least  # it does serve ordinary addresses


def test_ordinary_addresses_take_the_fast_path() -> None:
    assert ordinary_address("Bench-Reader.12+news@Mail.Example.ORG") == (
        "Bench-Reader.12+news@mail.example.org"
    )
    assert ordinary_address("a@mail.test") is None
    assert ordinary_address("josé@example.org") == "josé@example.org"  # Latin-1: NFC already
    assert ordinary_address("日本@example.org") is None
