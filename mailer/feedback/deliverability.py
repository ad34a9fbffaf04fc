"""Bounce and complaint rates per mailing and overall, and the automatic pause of a sending
mailing whose rates cross the thresholds (the editors are told by an event and a log line)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.config_bounces import BounceSettings
from mailer.db import load_queries
from mailer.delivery import mailings
from mailer.editorial.overview import keep_counts
from mailer.errors import Conflict, NotFound

log = logging.getLogger(__name__)
Q = load_queries("feedback/feedback")


@dataclass(frozen=True)
class Rates:
    mailing_id: int
    kind: str
    subject: str
    status: str
    attempted: int  # handed to SMTP with an outcome: sent or failed
    sent: int
    hard: int
    soft: int
    block: int
    bounced: int
    complaints: int

    @property
    def bounce_rate(self) -> float:
        return self.bounced / self.attempted if self.attempted else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0

    def breach(self, policy: BounceSettings) -> str | None:
        """Why this mailing must stop, or None."""
        if self.attempted < policy.pause_min_sample:
            return None
        if self.complaint_rate * 100 > policy.pause_complaint_percent:
            return (
                f"complaint rate {self.complaint_rate:.2%} ({self.complaints} of {self.sent}) "
                f"is above {policy.pause_complaint_percent}%"
            )
        if self.bounce_rate * 100 > policy.pause_bounce_percent:
            return (
                f"bounce rate {self.bounce_rate:.2%} ({self.bounced} of {self.attempted}) "
                f"is above {policy.pause_bounce_percent}%"
            )
        return None

    def as_json(self) -> dict[str, Any]:
        return {
            "mailing_id": self.mailing_id,
            "kind": self.kind,
            "subject": self.subject,
            "status": self.status,
            "attempted": self.attempted,
            "sent": self.sent,
            "bounces": {"hard": self.hard, "soft": self.soft, "block": self.block},
            "bounced": self.bounced,
            "complaints": self.complaints,
            "bounce_rate": round(self.bounce_rate, 5),
            "complaint_rate": round(self.complaint_rate, 5),
        }


def _rates(row: asyncpg.Record) -> Rates:
    return Rates(**{k: row[k] for k in Rates.__dataclass_fields__})


async def mailing_rates(
    pool: asyncpg.Pool, *, mailing_ids: list[int] | None = None, days: int | None = None
) -> list[Rates]:
    rows = await pool.fetch(Q["mailing_rates"], mailing_ids, days)
    return [_rates(r) for r in rows]


async def overview(pool: asyncpg.Pool, policy: BounceSettings, days: int) -> dict[str, Any]:
    """Rates over the mailings started within `days`, each mailing's, and suppressions."""
    await keep_counts(pool, days)  # finished mailings are counted once, then read
    per_mailing = await mailing_rates(pool, days=days)
    attempted = sum(r.attempted for r in per_mailing)
    sent = sum(r.sent for r in per_mailing)
    bounced = sum(r.bounced for r in per_mailing)
    complaints = sum(r.complaints for r in per_mailing)
    counts = await pool.fetch(Q["suppression_counts"])
    return {
        "days": days,
        "overall": {
            "attempted": attempted,
            "sent": sent,
            "bounced": bounced,
            "complaints": complaints,
            "bounce_rate": round(bounced / attempted, 5) if attempted else 0.0,
            "complaint_rate": round(complaints / sent, 5) if sent else 0.0,
        },
        "thresholds": {
            "bounce_percent": policy.pause_bounce_percent,
            "complaint_percent": policy.pause_complaint_percent,
            "min_sample": policy.pause_min_sample,
            "soft_bounce_limit": policy.soft_limit,
            "soft_bounce_days": policy.soft_days,
        },
        "suppressions": {row["reason"]: row["total"] for row in counts},
        "mailings": [r.as_json() for r in per_mailing],
    }


class ThresholdWatch:
    """Pauses sending mailings whose rates cross the thresholds. Rates are only counted
    again for a mailing whose bounce count changed since the last look (counting a large
    mailing's deliveries is not free); safe on several instances (pause is guarded)."""

    def __init__(self, pool: asyncpg.Pool, policy: BounceSettings) -> None:
        self.pool = pool
        self.policy = policy
        self._seen: dict[int, int] = {}

    async def check(self) -> list[int]:
        watched = {
            r["mailing_id"]: r["reports"] for r in await self.pool.fetch(Q["watched_mailings"])
        }
        changed = [m for m, n in watched.items() if self._seen.get(m) != n]
        self._seen = watched
        if not changed:
            return []
        paused = []
        for rates in await mailing_rates(self.pool, mailing_ids=changed):
            reason = rates.breach(self.policy)
            if reason is None or rates.status != "sending":
                continue
            try:
                await mailings.pause(
                    self.pool, rates.mailing_id, reason=reason, by="deliverability"
                )
            except (Conflict, NotFound):
                continue  # paused, cancelled or finished meanwhile
            log.warning(
                "%s %d paused automatically: %s; resume it once the cause is understood",
                rates.kind,
                rates.mailing_id,
                reason,
            )
            paused.append(rates.mailing_id)
        return paused


async def purge_old_reports(pool: asyncpg.Pool, policy: BounceSettings) -> None:
    """Reports past their retention, and webhook receipts past any replay window."""
    await pool.execute(Q["purge_reports"], policy.report_retention_days)
    await pool.execute(Q["purge_receipts"])
