"""The headers large senders send beside the body: Message-ID, Date, Feedback-ID,
Auto-Submitted, List-Archive, Reply-To, and which kinds carry List-Unsubscribe."""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime

from mailer.config import Settings

# Sent because someone did something (signed up, confirmed): RFC 3834 says so in a header,
# so that auto-responders do not answer them.
AUTOMATIC_KINDS = frozenset({"confirm", "welcome", "already_subscribed"})
# Transactional kinds whose recipient is already on the list: they carry List-Unsubscribe
# (one-click and mailto) like every mailing. A confirmation does not: nobody is on it yet.
LIST_KINDS = frozenset({"welcome"})
# List-Unsubscribe's mailto: fallback goes to unsubscribe+<delivery>-<sig>@<bounce domain>,
# which the bounce receiver takes (mailer.feedback.mail_unsubscribe).
UNSUBSCRIBE_LOCAL = "unsubscribe"


def new_message_id(
    secret_key: str, delivery_id: int, kind: str, created_at: datetime, domain: str
) -> str:
    """<delivery>.<kind>.<mac>@domain, without brackets. The MAC (secret key, delivery id,
    kind, the delivery's creation time) makes it unguessable, the same on every retry of
    one delivery, and new when a database reset reuses delivery ids; the leading delivery
    id and kind still let a bounce that quotes only the Message-ID be matched."""
    message = f"message-id\0{delivery_id}\0{kind}\0{created_at.isoformat()}".encode()
    mac = hmac.digest(secret_key.encode(), message, "sha256")[:15]
    return f"{delivery_id}.{kind}.{base64.b32encode(mac).decode().lower()}@{domain}"


def rfc5322_date(second: int) -> str:
    """'Sat, 05 Dec 2026 18:25:01 +0000': a numeric zone, as RFC 5322 prefers to 'GMT'."""
    return format_datetime(datetime.fromtimestamp(second, UTC))


def stream_of(kind: str, bulk: bool) -> str:
    """The feedback stream a mail belongs to: each mailing kind, or transactional."""
    return kind if bulk else "transactional"


def static_extras(
    settings: Settings, *, kind: str, mailing_id: int | None, bulk: bool, sender_id: str
) -> dict[str, str]:
    """The headers every copy of one compiled message shares, beyond From/Subject/List-Id."""
    extra: dict[str, str] = {}
    if settings.reply_to:
        extra["Reply-To"] = settings.reply_to
    if kind in AUTOMATIC_KINDS:
        extra["Auto-Submitted"] = "auto-generated"
    if bulk or kind in LIST_KINDS:
        extra["List-Archive"] = f"<{settings.base_url}/archive>"
    # Gmail's feedback loop: CampaignID:CustomerID:MailTypeID:SenderId, complaint rates
    # reported per value of each field. A mailing is a campaign; a transactional kind is one.
    campaign = f"m{mailing_id}" if mailing_id is not None else kind
    extra["Feedback-ID"] = f"{campaign}:{kind}:{stream_of(kind, bulk)}:{sender_id}"
    return extra
