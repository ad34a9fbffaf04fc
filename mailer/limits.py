"""In-process rate limits (per web replica): sliding windows keyed by client or address."""

from __future__ import annotations

import time
from collections import OrderedDict, deque

from aiohttp import web

from mailer.config import Settings


class SlidingWindow:
    """At most `limit` events per `window` seconds per key; memory bounded by `max_keys`."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str, now: float | None = None) -> float:
        """Count one event; returns 0 if allowed, else seconds until one would be."""
        current = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            if len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= current - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - current
        hits.append(current)
        return 0.0


def client_ip(request: web.Request, settings: Settings) -> str:
    """The client's address; X-Forwarded-For only when a trusted proxy sets it."""
    if settings.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.remote or "unknown"


class SignupLimits:
    """The signup doors' limits: per client IP (hosted form, and 20x that for the signed
    webhook, which speaks for many people) and per address (5 per hour)."""

    def __init__(self, per_ip_per_minute: int) -> None:
        self.form_ip = SlidingWindow(per_ip_per_minute, 60.0)
        self.webhook_ip = SlidingWindow(per_ip_per_minute * 20, 60.0)
        self.address = SlidingWindow(5, 3600.0)
        # Addresses that get no mail (suppressed, erased) are "throttled" on the hosted form
        # exactly as mailed ones are (one mail per 10 minutes), so its answers cannot tell
        # them apart. In-process, like the limits above.
        self.unmailed = SlidingWindow(1, 600.0)
