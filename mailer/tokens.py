"""Tamper-proof tokens: personal links (HMAC-signed, no lookup) and VERP bounce addresses."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from collections.abc import Sequence
from enum import StrEnum

from mailer.errors import MailerError


class InvalidToken(MailerError):
    """A token that was tampered with, truncated, or made for something else."""


class Purpose(StrEnum):
    PREFERENCES = "preferences"
    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    CONFIRM = "confirm"
    FORM = "form"
    CURSOR = "cursor"
    ADDRESS = "address"  # the address just signed up, for the thanks page to name
    KEEP = "keep"  # "yes, keep me subscribed" in a re-permission mail
    CLICK = "click"  # a link in bulk mail: mailing, item, target; never the subscriber


_SUBSCRIBER = struct.Struct(">QI")  # subscriber_id, key_version
_ID = struct.Struct(">Q")
_CLICK = struct.Struct(">QQ")  # mailing_id, item_id; the target URL follows
MAX_CLICK_URL = 2000  # bytes of target URL a click token carries (longer links stay plain)
_MAC_BYTES = 16  # 128 bits: unguessable
_VERP = re.compile(
    r"^(?P<local>[a-z0-9.-]+)\+(?P<id>\d{1,19})-(?P<sig>[a-z2-7]{8})@(?P<domain>.+)$"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("malformed token") from exc
    if _b64(raw) != text:  # one spelling per token: no variants in the unused bits
        raise InvalidToken("malformed token")
    return raw


class Signer:
    """Signs with one key per purpose derived from the secret key, so a token made for
    one use (say preferences) is never accepted for another (say unsubscribe).

    Given several secret keys (a rotation), the first signs and every one verifies: links
    in mail sent under an old key keep working while that key stays listed."""

    def __init__(self, secret_keys: str | Sequence[str]) -> None:
        roots = [secret_keys] if isinstance(secret_keys, str) else list(secret_keys) or [""]
        self._key_sets = [
            {
                purpose: hmac.new(
                    root.encode(), f"mailer:{purpose.value}".encode(), hashlib.sha256
                ).digest()
                for purpose in Purpose
            }
            for root in dict.fromkeys(roots)
        ]

    def _mac(self, purpose: Purpose, data: bytes) -> bytes:
        """The MAC under the signing (first) key."""
        return self._mac_with(self._key_sets[0], purpose, data)

    @staticmethod
    def _mac_with(keys: dict[Purpose, bytes], purpose: Purpose, data: bytes) -> bytes:
        # hmac.digest: the same MAC as hmac.new(...).digest(), in one call to OpenSSL.
        return hmac.digest(keys[purpose], data, "sha256")[:_MAC_BYTES]

    def _verifies(self, purpose: Purpose, data: bytes, mac: bytes, size: int = _MAC_BYTES) -> bool:
        """Whether `mac` is the MAC of `data` under any of the keys (each one compared in
        constant time, and all of them compared, so the timing tells nothing)."""
        found = False
        for keys in self._key_sets:
            found |= hmac.compare_digest(mac, self._mac_with(keys, purpose, data)[:size])
        return found

    def subscriber_token(self, purpose: Purpose, subscriber_id: int, key_version: int) -> str:
        payload = _SUBSCRIBER.pack(subscriber_id, key_version)
        return _b64(payload + self._mac(purpose, payload))

    def read_subscriber_token(self, purpose: Purpose, token: str) -> tuple[int, int]:
        """(subscriber_id, key_version); the caller checks the version is still current."""
        if not 20 <= len(token) <= 64:
            raise InvalidToken("malformed token")
        raw = _unb64(token)
        if len(raw) != _SUBSCRIBER.size + _MAC_BYTES:
            raise InvalidToken("malformed token")
        payload, mac = raw[: _SUBSCRIBER.size], raw[_SUBSCRIBER.size :]
        if not self._verifies(purpose, payload, mac):
            raise InvalidToken("bad signature")
        subscriber_id, key_version = _SUBSCRIBER.unpack(payload)
        return subscriber_id, key_version

    def confirmation_token(self, confirmation_id: int, nonce: bytes) -> str:
        """The secret part of a confirmation link; the database keeps only its hash."""
        payload = _ID.pack(confirmation_id)
        return _b64(payload + self._mac(Purpose.CONFIRM, payload + nonce))

    def form_stamp(self, issued_at: int) -> str:
        """A signed time for the hosted form: bots that post too fast or replay are spotted."""
        payload = _ID.pack(issued_at)
        return _b64(payload + self._mac(Purpose.FORM, payload)[:8])

    def read_form_stamp(self, stamp: str) -> int:
        if len(stamp) > 40:
            raise InvalidToken("malformed stamp")
        raw = _unb64(stamp)
        if len(raw) != _ID.size + 8:
            raise InvalidToken("malformed stamp")
        payload, mac = raw[: _ID.size], raw[_ID.size :]
        if not self._verifies(Purpose.FORM, payload, mac, 8):
            raise InvalidToken("bad signature")
        issued_at: int = _ID.unpack(payload)[0]
        return issued_at

    def sign_blob(self, purpose: Purpose, data: bytes) -> str:
        """Opaque, tamper-proof bytes for a client to hand back (e.g. a page cursor)."""
        return _b64(data + self._mac(purpose, data))

    def read_blob(self, purpose: Purpose, token: str, max_length: int = 200) -> bytes:
        if not 0 < len(token) <= max_length:
            raise InvalidToken("malformed token")
        raw = _unb64(token)
        data, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(raw) <= _MAC_BYTES or not self._verifies(purpose, data, mac):
            raise InvalidToken("bad signature")
        return data

    def click_token(self, mailing_id: int, item_id: int, url: str) -> str:
        """A redirect token for one link of one mailing: the same for every recipient, so
        it is made once per mailing, and it names no one."""
        return self.sign_blob(Purpose.CLICK, _CLICK.pack(mailing_id, item_id) + url.encode())

    def read_click_token(self, token: str) -> tuple[int, int, str]:
        """(mailing_id, item_id, target URL); InvalidToken unless we made it."""
        data = self.read_blob(Purpose.CLICK, token, max_length=2 * MAX_CLICK_URL)
        if len(data) <= _CLICK.size:
            raise InvalidToken("malformed token")
        mailing_id, item_id = _CLICK.unpack(data[: _CLICK.size])
        try:
            url = data[_CLICK.size :].decode()
        except UnicodeDecodeError as exc:
            raise InvalidToken("malformed token") from exc
        return mailing_id, item_id, url

    def bounce_address(self, local: str, domain: str, delivery_id: int) -> str:
        """VERP envelope sender: a bounce to it names its delivery, and cannot be forged."""
        return f"{local}+{delivery_id}-{self._verp_sig(delivery_id)}@{domain}"

    def bounce_addresses(self, locals_: Sequence[str], domain: str, delivery_id: int) -> list[str]:
        """bounce_address for each local part, signing the delivery id once."""
        sig = self._verp_sig(delivery_id)
        return [f"{local}+{delivery_id}-{sig}@{domain}" for local in locals_]

    def read_bounce_address(self, address: str) -> int:
        match = _VERP.match(address.strip().lower())
        if not match:
            raise InvalidToken("not a bounce address")
        delivery_id = int(match.group("id"))
        found = False
        for keys in self._key_sets:  # a bounce may come weeks after the mail, under an old key
            found |= hmac.compare_digest(match.group("sig"), self._verp_sig(delivery_id, keys))
        if not found:
            raise InvalidToken("bad signature")
        return delivery_id

    def _verp_sig(self, delivery_id: int, keys: dict[Purpose, bytes] | None = None) -> str:
        mac = self._mac_with(keys or self._key_sets[0], Purpose.BOUNCE, str(delivery_id).encode())
        return base64.b32encode(mac[:5]).decode().lower()


def token_hash(token: str) -> bytes:
    """What the database keeps of a confirmation token."""
    return hashlib.sha256(token.encode()).digest()


def looks_like_confirmation_token(token: str) -> bool:
    return len(token) == 32 and all(c.isalnum() or c in "-_" for c in token)
