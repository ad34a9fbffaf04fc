"""Differentially private click figures: Laplace noise on each published count.

The noise of a figure is drawn from a seed made of a server secret, the figure's key (what
it counts: say mailing 12, item 40, 2026-12-05) and its exact value, so asking again gives
the same published number: repeated queries cannot average the noise away. Stored counts
stay exact; only what is shown (console, API, CSV, webhook) is noisy."""

from __future__ import annotations

import hashlib
import hmac
import math


class Publisher:
    """Turns exact counts into published figures (the same count, the same figure)."""

    def __init__(self, secret: str, epsilon: float | None) -> None:
        self.epsilon = epsilon
        self._key = hmac.new(secret.encode(), b"mailer:click-noise", hashlib.sha256).digest()

    @property
    def noisy(self) -> bool:
        return self.epsilon is not None

    def noise(self, key: str, count: int) -> float:
        """Laplace(0, 1/epsilon) by inverse transform from a uniform in (0, 1) that an HMAC of
        (key, count) gives: deterministic, and unpredictable without the secret."""
        assert self.epsilon is not None
        digest = hmac.new(self._key, f"{key}|{count}".encode(), hashlib.sha256).digest()
        u = (int.from_bytes(digest[:8], "big") + 0.5) / 2**64 - 0.5  # in (-0.5, 0.5)
        return -math.copysign(1.0, u) * math.log(1.0 - 2.0 * abs(u)) / self.epsilon

    def figure(self, key: str, count: int) -> int:
        """The published count: exact, or with noise, rounded and never below 0."""
        if self.epsilon is None:
            return count
        return max(0, round(count + self.noise(key, count)))

    def describe(self) -> dict[str, float] | None:
        """What readers of the figures are told about the noise (None: exact)."""
        if self.epsilon is None:
            return None
        scale = 1.0 / self.epsilon
        # Half of the noise draws fall within scale * ln 2 of zero, 95 % within scale * ln 20.
        return {"epsilon": self.epsilon, "scale": scale, "within_95": scale * math.log(20)}
