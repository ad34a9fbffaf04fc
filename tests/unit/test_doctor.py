"""`mailer doctor` against a DNS stub on loopback: a correct set-up passes, each mistake is
named in words, and the DKIM record it prints is the key's public half."""

from __future__ import annotations

import argparse
import base64
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from mailer.commands.doctor import doctor_command
from mailer.feedback.dns_check import public_key_record
from tests.support.dns_stub import Records, dns_stub
from tests.support.factories import engine_settings

DOMAIN = "health.example.org"


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(path), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return path, base64.b64encode(der).decode()


def txt(value: str) -> str:
    return " ".join(f'"{value[i : i + 200]}"' for i in range(0, len(value), 200))


def good(public: str) -> dict[tuple[str, str], list[str]]:
    return {
        (DOMAIN, "TXT"): [txt("v=spf1 ip4:192.0.2.10 -all")],
        (f"mail._domainkey.{DOMAIN}", "TXT"): [txt(f"v=DKIM1; k=rsa; p={public}")],
        (f"_dmarc.{DOMAIN}", "TXT"): [txt("v=DMARC1; p=reject; rua=mailto:dmarc@x.org")],
        (DOMAIN, "MX"): ["10 bounces.health.example.org."],
        ("bounces.health.example.org", "A"): ["192.0.2.25"],
    }


async def run(
    tmp_path: Path, key: tuple[Path, str], records: Records, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    with dns_stub(records) as (host, port):
        settings = replace(
            engine_settings(tmp_path),
            dkim_key_file=key[0],
            dkim_selector="mail",
            dkim_domain=DOMAIN,
            dns_resolver=f"{host}:{port}",
        )
        code = await doctor_command(settings, argparse.Namespace(receiver="192.0.2.25"))
    return code, capsys.readouterr().out


async def test_a_correct_setup_passes(
    tmp_path: Path, key: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = await run(tmp_path, key, good(key[1]), capsys)
    print(out)
    assert code == 0, out
    assert [line[:4] for line in out.splitlines()[:4]] == ["OK  "] * 4, out
    assert f"p={key[1]}" in out  # the record to publish is the key's public half
    assert public_key_record(key[0]) == f"v=DKIM1; k=rsa; p={key[1]}"


async def test_each_mistake_is_named(
    tmp_path: Path, key: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    other = subprocess.run(["openssl", "genrsa", "2048"], check=True, capture_output=True).stdout
    wrong = tmp_path / "other.pem"
    wrong.write_bytes(other)
    records = good(public_key_record(wrong).split("p=", 1)[1])  # another key's public half
    records[(DOMAIN, "TXT")] = [txt("v=spf1 +all")]
    records[(f"_dmarc.{DOMAIN}", "TXT")] = [txt("v=DMARC1; p=none")]
    records[(DOMAIN, "MX")] = ["10 mx.elsewhere.example.net."]
    code, out = await run(tmp_path, key, records, capsys)
    print(out)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("FAIL SPF") and "anyone may send" in lines[0]
    assert lines[1].startswith("FAIL DKIM") and "does not match" in lines[1]
    assert lines[2].startswith("WARN DMARC") and "p=none only monitors" in lines[2]
    assert lines[3].startswith("FAIL MX") and "mx.elsewhere.example.net" in lines[3]
    del records[(f"_dmarc.{DOMAIN}", "TXT")]
    code, out = await run(tmp_path, key, records, capsys)
    assert "no DMARC record at _dmarc.health.example.org" in out
