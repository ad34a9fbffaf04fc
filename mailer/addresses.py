"""E-mail addresses: checked and normalised, one form for uniqueness, and the hash
suppressions keep."""

from __future__ import annotations

import hashlib
import re

import email_validator
from email_validator import validate_email

# An ordinary address: ASCII letters and digits joined by single dots, pluses, hyphens or
# underscores; a domain of plain labels under a TLD of letters. email-validator accepts
# every such address (within the lengths below, outside the special-use domains) and
# normalises it by lower-casing the domain, so it is not asked (a test compares the two).
_ORDINARY = re.compile(
    r"([A-Za-z0-9]+(?:[._+-][A-Za-z0-9]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


def ordinary_address(value: str) -> str | None:
    """email-validator's normalised form of an ordinary address, without asking it; None
    for any other address (which email-validator then judges)."""
    match = _ORDINARY.fullmatch(value)
    if match is None or len(value) > 254 or len(match[1]) > 64:
        return None
    domain = match[2].lower()
    if "--" in domain:  # xn-- (IDNA) labels, and others email-validator looks at closely
        return None
    for special in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == special or domain.endswith("." + special):
            return None
    return f"{match[1]}@{domain}"


def normalise_email(value: str) -> str:
    """The address as we keep it; EmailNotValidError says what is wrong with it."""
    value = value.strip()
    return ordinary_address(value) or validate_email(value, check_deliverability=False).normalized


def address_key(address: str) -> str:
    """The form two spellings of one address share (case-folded whole: 'one subscriber per
    address, whatever its case')."""
    return address.strip().casefold()


def address_hash(address: str) -> bytes:
    """What a suppression keeps of an address: enough to recognise it, nothing to read."""
    return hashlib.sha256(address_key(address).encode()).digest()
