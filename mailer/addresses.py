"""E-mail addresses: checked and normalised, one form for uniqueness, and the hash
suppressions keep."""

from __future__ import annotations

import hashlib

from email_validator import validate_email


def normalise_email(value: str) -> str:
    """The address as we keep it; EmailNotValidError says what is wrong with it."""
    return validate_email(value.strip(), check_deliverability=False).normalized


def address_key(address: str) -> str:
    """The form two spellings of one address share (case-folded whole: 'one subscriber per
    address, whatever its case')."""
    return address.strip().casefold()


def address_hash(address: str) -> bytes:
    """What a suppression keeps of an address: enough to recognise it, nothing to read."""
    return hashlib.sha256(address_key(address).encode()).digest()
