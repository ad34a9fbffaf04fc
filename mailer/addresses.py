"""E-mail addresses: one normal form for uniqueness, and the hash suppressions keep."""

from __future__ import annotations

import hashlib


def address_key(address: str) -> str:
    """The form two spellings of one address share (case-folded whole: 'one subscriber per
    address, whatever its case')."""
    return address.strip().casefold()


def address_hash(address: str) -> bytes:
    """What a suppression keeps of an address: enough to recognise it, nothing to read."""
    return hashlib.sha256(address_key(address).encode()).digest()
