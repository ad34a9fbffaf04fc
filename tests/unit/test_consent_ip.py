"""ledger_ip's dotted-quad shortcut keeps what ipaddress would keep, and nothing else."""

import ipaddress
import random

from mailer.audience.consent import ledger_ip


def reference(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def test_ledger_ip_matches_ipaddress() -> None:
    rnd = random.Random(23)
    parts = ["0", "00", "01", "1", "9", "10", "99", "100", "199", "249", "250", "255", "256", "300"]
    values = [
        ".".join(rnd.choice(parts) for _ in range(rnd.choice([3, 4, 4, 4, 5]))) for _ in range(3000)
    ]
    values += ["198.51.100.7", " 198.51.100.7 ", "198.51.100.7\n", "::1", "2001:DB8::1"]
    values += [
        "::ffff:1.2.3.4",
        "1.2.3.4%eth0",
        "\u0661.\u0662.\u0663.\u0664",
        "1.2.3.4/32",
        "",
        "x",
    ]
    for value in values:
        assert ledger_ip(value) == (reference(value) if value else None), repr(value)
