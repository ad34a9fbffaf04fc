"""States spelled exactly as in the database, and the rows the engine passes around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


class MailingStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


class SubscriberStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"
    ERASED = "erased"


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a worker holds under lease, with what rendering needs of its subscriber."""

    delivery_id: int
    mailing_id: int | None
    subscriber_id: int | None
    kind: str
    recipient: str
    payload: dict[str, Any] | None
    item_ids: list[int] | None
    attempts: int
    created_at: datetime
    name: str | None
    key_version: int | None
    plain_text_only: bool
    locale: str | None = None  # the subscriber's language tag: the mail is written in it
    topic_ids: list[int] | None = None  # a digest reader's topics at fan-out (its headings)


@dataclass(frozen=True, slots=True)
class Bounce:
    """A bounce or complaint as recorded: from the SMTP reply, a DSN, an ARF report or a
    provider's webhook."""

    delivery_id: int | None  # None: a report matched to a subscriber but not to one mail
    subscriber_id: int | None
    recipient: str
    kind: str  # hard, soft, block, complaint
    source: str  # smtp, dsn, arf, webhook:<provider>
    detail: str
