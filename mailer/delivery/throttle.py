"""Per receiving domain throttling: messages per minute and connections (SMTP transactions
in flight) per domain group, and a back-off for a group whose servers answer 421 or 4.7.x.

Big providers rate-limit per sender: a million-recipient digest sent as fast as the relay
takes it meets Gmail's or Microsoft's limits and earns deferrals (and reputation damage).
Each group has its own bucket, so throttling or a deferral from one provider delays that
provider's mail only: a delivery that may not go yet is deferred to the moment its slot
comes (a reservation, not a retry loop), and the sender goes on with the next one.

The limits hold per worker process (each keeps its own buckets): with several replicas,
divide the figures among them."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailer.config import Settings

GROUPS = ("gmail", "yahoo", "microsoft", "other")
_DOMAINS = {
    "gmail.com": "gmail",
    "googlemail.com": "gmail",
    "yahoo.com": "yahoo",
    "ymail.com": "yahoo",
    "rocketmail.com": "yahoo",
    "aol.com": "yahoo",
    "aim.com": "yahoo",
    "outlook.com": "microsoft",
    "hotmail.com": "microsoft",
    "live.com": "microsoft",
    "msn.com": "microsoft",
}
# Country variants: yahoo.co.uk, hotmail.fr, live.de, outlook.es, ...
_PREFIXES = (
    ("yahoo.", "yahoo"),
    ("aol.", "yahoo"),
    ("hotmail.", "microsoft"),
    ("live.", "microsoft"),
    ("outlook.", "microsoft"),
)
_BACKOFF_FIRST, _BACKOFF_MAX = 30.0, 900.0
# Buckets kept before the idle ones are dropped (see Throttle._sweep).
SWEEP_AT = 1024


@dataclass(frozen=True)
class Limit:
    """Messages per minute and transactions in flight; 0: no limit."""

    per_minute: int = 0
    connections: int = 0


def parse_limit(text: str) -> Limit:
    """'600/5' (600 a minute, 5 at once), '600' (no connection limit), '0' (none)."""
    rate, _, connections = text.strip().partition("/")
    limit = Limit(int(rate or 0), int(connections or 0))
    if limit.per_minute < 0 or limit.connections < 0:
        raise ValueError("limits are counts of 0 or more")
    return limit


def throttle_limits(settings: Settings) -> dict[str, Limit]:
    """The configured limit of each group (MAILER_THROTTLE_*)."""
    return {
        "gmail": parse_limit(settings.throttle_gmail),
        "yahoo": parse_limit(settings.throttle_yahoo),
        "microsoft": parse_limit(settings.throttle_microsoft),
        "other": parse_limit(settings.throttle_other),
    }


def group_of(recipient: str) -> tuple[str, str]:
    """(group, key): the big providers' domains share one key per group; any other
    domain is its own key in the group 'other'."""
    return _group_of_domain(recipient.rpartition("@")[2])


@functools.lru_cache(maxsize=4096)  # asked twice per mail, for few domains
def _group_of_domain(domain: str) -> tuple[str, str]:
    domain = domain.strip().lower().rstrip(".")
    group = _DOMAINS.get(domain)
    if group is None:
        group = next((g for prefix, g in _PREFIXES if domain.startswith(prefix)), None)
    return (group, group) if group is not None else ("other", f"other:{domain}")


def is_domain_deferral(code: int | None, enhanced: str | None, phase: str) -> bool:
    """421 or 4.7.x to a recipient or its message: the receiving side asks us to slow
    down (rate or reputation), unlike a relay that is down."""
    if phase not in ("recipient", "data"):
        return False
    return code == 421 or (enhanced is not None and enhanced.startswith("4.7."))


@dataclass
class _Bucket:
    limit: Limit
    next_slot: float = 0.0  # monotonic time the next message may start
    in_flight: int = 0
    paused_until: float = 0.0
    backoff: float = 0.0


class Throttle:
    """In-process: admit() before a send, done() after it (with its outcome)."""

    def __init__(
        self, limits: dict[str, Limit], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.buckets: dict[str, _Bucket] = {}
        self._sweep_at = SWEEP_AT

    def _bucket(self, recipient: str) -> _Bucket:
        group, key = group_of(recipient)
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self._sweep_at:
                self._sweep()
            bucket = self.buckets[key] = _Bucket(self.limits.get(group, Limit()))
        return bucket

    def _sweep(self) -> None:
        """Drop the buckets that hold nothing: no send in flight, no slot reserved ahead, no
        pause, and no back-off still to double. Each receiving domain outside the big
        providers has a bucket of its own, and a worker sending a million mails to tens of
        thousands of domains kept them all for its lifetime. Swept again once the kept ones
        have doubled, so the cost per new bucket stays constant."""
        now = self.clock()
        self.buckets = {
            key: b
            for key, b in self.buckets.items()
            if b.in_flight or b.next_slot > now or b.paused_until + b.backoff > now
        }
        self._sweep_at = max(SWEEP_AT, 2 * len(self.buckets))

    def admit(self, recipient: str) -> float:
        """0.0: send now (counted in flight until done()). Otherwise the seconds to defer
        the delivery by; its slot is kept for it, so deferred mail comes due spread out."""
        bucket = self._bucket(recipient)
        now = self.clock()
        limit = bucket.limit
        start = max(now, bucket.paused_until)
        if limit.per_minute:
            start = max(start, bucket.next_slot)
            bucket.next_slot = start + 60.0 / limit.per_minute
        if start > now:
            return start - now
        if limit.connections and bucket.in_flight >= limit.connections:
            if limit.per_minute:  # give the slot back: it was not used
                bucket.next_slot -= 60.0 / limit.per_minute
            return 0.5
        bucket.in_flight += 1
        return 0.0

    def done(self, recipient: str) -> None:
        """After an admitted send, whatever its outcome; a success ends a back-off."""
        bucket = self._bucket(recipient)
        bucket.in_flight = max(bucket.in_flight - 1, 0)
        if self.clock() >= bucket.paused_until:
            bucket.backoff = 0.0

    def failed(self, recipient: str, code: int | None, enhanced: str | None, phase: str) -> None:
        """A domain deferral (is_domain_deferral) pauses the recipient's group, doubling
        each time (30 s up to 15 min); other failures change nothing here."""
        if not is_domain_deferral(code, enhanced, phase):
            return
        bucket = self._bucket(recipient)
        bucket.backoff = min(max(bucket.backoff * 2, _BACKOFF_FIRST), _BACKOFF_MAX)
        bucket.paused_until = self.clock() + bucket.backoff

    def paused(self, recipient: str) -> float:
        """Seconds the recipient's group is paused for (0.0: not paused)."""
        return max(self._bucket(recipient).paused_until - self.clock(), 0.0)
