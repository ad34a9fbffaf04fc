"""`mailer mailings watch`: a live progress bar for a sending mailing."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

import asyncpg

from mailer.delivery.mailings import Progress, progress
from mailer.models import DeliveryStatus as S
from mailer.models import MailingStatus

_FINAL = (MailingStatus.SENT, MailingStatus.CANCELLED)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_bar(fraction: float, width: int = 30) -> str:
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return "#" * filled + "-" * (width - filled)


def format_progress(p: Progress, width: int = 30) -> str:
    """One line: bar, percentage, counts, rate and ETA."""
    fraction = p.done / p.total if p.total else 1.0
    bar = format_bar(fraction, width)
    shown = (S.SENT, S.DEFERRED, S.FAILED, S.SUPPRESSED, S.CANCELLED)
    counts = " ".join(f"{status.value} {p.counts[status]}" for status in shown)
    return (
        f"[{bar}] {fraction * 100:5.1f}% {p.done}/{p.total} {p.status.value} | {counts} | "
        f"{p.rate_per_second:.0f}/s ETA {format_duration(p.eta_seconds)}"
    )


async def watch(
    pool: asyncpg.Pool, mailing_id: int, *, out: TextIO = sys.stdout, interval: float = 1.0
) -> Progress:
    """Redraw the line until the mailing is sent or cancelled; returns the last progress."""
    live = out.isatty()
    while True:
        started = time.monotonic()
        current = await progress(pool, mailing_id)
        # Counting a million-row mailing takes a while: never spend more than a third of
        # the time (and of a database backend) on watching.
        cost = time.monotonic() - started
        line = format_progress(current)
        if live:
            out.write("\r\x1b[2K" + line)
        else:
            out.write(line + "\n")
        out.flush()
        if current.status in _FINAL:
            if live:
                out.write("\n")
            return current
        await asyncio.sleep(max(interval if live else 5.0, 2 * cost))
