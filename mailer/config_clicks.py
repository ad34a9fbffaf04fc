"""Settings of click counting (read with the rest in config.py; kept here so config.py stays
one screen of its own)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mailer.settings_fields import INVALID, Setting, setting

EPSILON_LOW, EPSILON_HIGH = 0.01, 10.0


def _epsilon(text: str, s: Setting, problems: list[str]) -> object:
    if text.lower() in ("off", "none", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not EPSILON_LOW <= value <= EPSILON_HIGH:
        problems.append(f"{s.env} must be `off` or a number from {EPSILON_LOW} to {EPSILON_HIGH}")
        return INVALID
    return value


@dataclass(frozen=True)
class ClickSettings:
    redirects: bool = setting(
        "MAILER_CLICK_REDIRECTS",
        True,
        help="item links in digests, alerts and corrections go through `/r/{token}` (signed: the "
        "mailing, the item and the target, never the reader) and are counted per item, mailing, "
        "link and day; `false` puts the plain links in mail and counts nothing",
    )
    scanner_seconds: float = setting(
        "MAILER_CLICK_SCANNER_SECONDS",
        60.0,
        low=0.0,
        high=86400.0,
        help="a click this soon after its mailing started sending is counted as a link "
        "scanner's (apart from readers' clicks); 0 turns that rule off",
    )
    epsilon: float | None = setting(
        "MAILER_CLICK_EPSILON",
        None,
        shown="off",
        parse=_epsilon,
        help="differential privacy of published click counts (console, API, CSV, webhook): "
        "Laplace noise of scale 1/epsilon on each figure (smaller: more noise, more privacy); "
        "stored counts stay exact; `off`: exact figures",
    )

    def redacted(self) -> str:
        noise = f"noise epsilon {self.epsilon:g}" if self.epsilon else "exact figures"
        links = "redirect links" if self.redirects else "plain links (not counted)"
        return f"{links}, scanner window {self.scanner_seconds:g}s, {noise}"
