"""What an operator must get right in DNS for mail to arrive, checked and said in words:
SPF of the envelope domain, the DKIM public key against our private key, the DMARC policy,
and the bounce domain's MX. DNS is read through MAILER_DNS_RESOLVER when set (a test stub,
or a resolver you trust), else the system's."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

import dns.asyncresolver
import dns.exception
import dns.resolver

from mailer.config import Settings

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    check: str  # spf, dkim, dmarc, mx
    status: str  # ok, warn, fail
    text: str  # what was found and what to do, in words


def resolver_for(address: str, *, timeout: float = 5.0) -> dns.asyncresolver.Resolver:
    """'' for the system's resolver; 'HOST' or 'HOST:PORT' for one server."""
    if not address:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
        resolver.nameservers = [host or address]
        if port:
            resolver.port = int(port)
    resolver.lifetime = timeout
    return resolver


class Lookup:
    def __init__(self, resolver: dns.asyncresolver.Resolver) -> None:
        self.resolver = resolver

    async def texts(self, name: str) -> list[str] | str:
        """TXT strings of a name (each record's strings joined), or why there are none."""
        try:
            answer = await self.resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            return f"DNS lookup of {name} failed ({type(exc).__name__})"
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]

    async def mx(self, name: str) -> list[tuple[int, str]] | str:
        try:
            answer = await self.resolver.resolve(name, "MX")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            return f"DNS lookup of {name} failed ({type(exc).__name__})"
        return sorted((r.preference, r.exchange.to_text().rstrip(".").lower()) for r in answer)

    async def addresses(self, name: str) -> set[str]:
        found: set[str] = set()
        for kind in ("A", "AAAA"):
            with contextlib.suppress(dns.exception.DNSException):
                found |= {r.to_text() for r in await self.resolver.resolve(name, kind)}
        return found


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed DMARC alignment, simplified: the same domain or one a subdomain of the other."""
    return (
        domain == from_domain
        or domain.endswith("." + from_domain)
        or (from_domain.endswith("." + domain))
    )


async def check_spf(look: Lookup, domain: str, from_domain: str) -> Finding:
    texts = await look.texts(domain)
    if isinstance(texts, str):
        return Finding("spf", FAIL, texts)
    records = [t for t in texts if t.lower().startswith("v=spf1")]
    if not records:
        return Finding(
            "spf", FAIL, f"{domain} (the envelope sender's domain, which SPF checks) has no "
            "SPF record: publish a TXT record 'v=spf1 include:<your relay's SPF> -all' naming "
            "the servers that send for it.",
        )  # fmt: skip
    if len(records) > 1:
        return Finding(
            "spf", FAIL, f"{domain} has {len(records)} SPF records; receivers treat that as "
            "an error (permerror): merge them into one.",
        )  # fmt: skip
    record = records[0]
    ending = record.split()[-1].lower()
    notes = []
    if ending in ("+all", "all"):
        return Finding("spf", FAIL, f"SPF of {domain} ends in '{ending}': anyone may send.")
    if ending == "?all" or not ending.endswith("all"):
        notes.append("it ends without '-all' or '~all', so it never says no")
    if not _aligned(domain, from_domain):
        notes.append(f"{domain} is not {from_domain} nor a subdomain: SPF does not align")
    status = WARN if notes else OK
    said = f"SPF of {domain}: '{record}'" + (f"; {'; '.join(notes)}." if notes else ".")
    return Finding("spf", status, said + " Make sure it names your relay's addresses.")


async def check_dkim(
    look: Lookup, private_pem: bytes | None, selector: str, domain: str, from_domain: str
) -> Finding:
    if private_pem is None:
        return Finding(
            "dkim", WARN, "DKIM is off (MAILER_DKIM_KEY_FILE unset): unless your relay signs "
            f"for {from_domain}, mail is unsigned and Gmail and Yahoo refuse bulk mail so.",
        )  # fmt: skip
    from dkim.crypto import parse_pem_private_key, parse_public_key

    name = f"{selector}._domainkey.{domain}"
    texts = await look.texts(name)
    if isinstance(texts, str):
        return Finding("dkim", FAIL, texts)
    tags = [_tags(t) for t in texts]
    keys = [t for t in tags if "p" in t]
    if not keys:
        return Finding(
            "dkim", FAIL, f"{name} has no DKIM key record: publish TXT 'v=DKIM1; k=rsa; "
            "p=<your public key>' there (`mailer doctor` prints the value below).",
        )  # fmt: skip
    private = parse_pem_private_key(private_pem)
    try:
        public = parse_public_key(base64.b64decode(keys[0]["p"]))
    except Exception:
        return Finding("dkim", FAIL, f"the key at {name} cannot be read (not base64 RSA)")
    if public["modulus"] != private["modulus"]:
        return Finding(
            "dkim", FAIL, f"the public key at {name} does not match MAILER_DKIM_KEY_FILE: "
            "every signature fails. Publish this key's public half, or use the right file.",
        )  # fmt: skip
    if not _aligned(domain, from_domain):
        return Finding(
            "dkim", WARN, f"the key at {name} matches, but d={domain} does not align with "
            f"From's {from_domain} for DMARC.",
        )  # fmt: skip
    return Finding("dkim", OK, f"the public key at {name} matches the private key.")


def _tags(text: str) -> dict[str, str]:
    tags = {}
    for part in text.split(";"):
        key, eq, value = part.strip().partition("=")
        if eq:
            tags[key.strip().lower()] = "".join(value.split())
    return tags


async def check_dmarc(look: Lookup, from_domain: str) -> Finding:
    names = [f"_dmarc.{from_domain}"]
    if from_domain.count(".") > 1:  # the organisational domain, roughly
        names.append("_dmarc." + from_domain.split(".", 1)[1])
    for name in names:
        texts = await look.texts(name)
        if isinstance(texts, str):
            return Finding("dmarc", FAIL, texts)
        records = [_tags(t) for t in texts if t.lower().replace(" ", "").startswith("v=dmarc1")]
        if not records:
            continue
        policy = records[0].get("p", "").lower()
        rua = records[0].get("rua")
        reports = f" Aggregate reports go to {rua}." if rua else " Add rua=mailto:... for reports."
        if policy in ("quarantine", "reject"):
            return Finding("dmarc", OK, f"{name}: p={policy}." + reports)
        if policy == "none":
            return Finding(
                "dmarc", WARN, f"{name}: p=none only monitors; move to quarantine or reject "
                "once SPF and DKIM pass." + reports,
            )  # fmt: skip
        return Finding("dmarc", FAIL, f"{name} has a DMARC record without a valid p= tag.")
    return Finding(
        "dmarc", FAIL, f"no DMARC record at _dmarc.{from_domain}: Gmail and Yahoo require one "
        "of bulk senders; start with 'v=DMARC1; p=none; rua=mailto:dmarc@" + from_domain + "'.",
    )  # fmt: skip


async def check_mx(look: Lookup, bounce_domain: str, receiver: str | None) -> Finding:
    found = await look.mx(bounce_domain)
    if isinstance(found, str):
        return Finding("mx", FAIL, found)
    if not found:
        return Finding(
            "mx", FAIL, f"{bounce_domain} (where bounces and the mailto: unsubscribe go) has "
            "no MX record: point one at the host running the bounce receiver.",
        )  # fmt: skip
    hosts = ", ".join(host for _, host in found)
    if receiver is None:
        return Finding(
            "mx", WARN, f"MX of {bounce_domain}: {hosts}. Give --receiver HOST to check that "
            "they reach the bounce receiver.",
        )  # fmt: skip
    wanted = {receiver.lower()} | await look.addresses(receiver)
    for _, host in found:
        if host in wanted or (await look.addresses(host)) & wanted:
            return Finding("mx", OK, f"MX of {bounce_domain} ({hosts}) reaches {receiver}.")
    return Finding(
        "mx", FAIL, f"MX of {bounce_domain} is {hosts}, which is not {receiver}: bounces "
        "and mailed unsubscribes will not reach the receiver.",
    )  # fmt: skip


async def check_domain(
    settings: Settings, *, receiver: str | None = None, resolver: str | None = None
) -> Sequence[Finding]:
    """Every check, in the order an operator fixes them."""
    look = Lookup(resolver_for(settings.dns_resolver if resolver is None else resolver))
    key_file = settings.dkim_key_file
    private_pem = key_file.read_bytes() if key_file is not None else None
    from_domain = parseaddr(settings.from_address)[1].rpartition("@")[2].lower()
    return [
        await check_spf(look, settings.bounce_domain, from_domain),
        await check_dkim(
            look, private_pem, settings.dkim_selector, settings.dkim_domain, from_domain
        ),
        await check_dmarc(look, from_domain),
        await check_mx(look, settings.bounce_domain, receiver),
    ]


def public_key_record(key_file: Path) -> str:
    """The TXT value to publish for a PEM RSA private key."""
    from dkim.crypto import parse_pem_private_key

    private = parse_pem_private_key(key_file.read_bytes())
    n, e = private["modulus"], private["publicExponent"]
    der = _public_der(n, e)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def _der_int(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big")  # a leading 0 keeps it positive
    return _der(0x02, raw)


def _public_der(n: int, e: int) -> bytes:
    """SubjectPublicKeyInfo of an RSA key, as DKIM's p= carries it."""
    rsa_oid = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    key = _der(0x30, _der_int(n) + _der_int(e))
    return _der(0x30, rsa_oid + _der(0x03, b"\x00" + key))
