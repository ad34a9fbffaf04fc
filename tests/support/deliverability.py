"""Every mail kind rendered as it goes out (Composer: templates, headers, DKIM), with
realistic content, for the SpamAssassin and DKIM checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import asyncpg

from mailer.config import Settings
from mailer.delivery.compose import Composer, Outgoing
from mailer.demo.content import sample_digest_content
from mailer.editorial import alerts, corrections
from mailer.models import ClaimedDelivery
from mailer.runtime.mail_kinds import standard_slot_providers

SUMMARY = (
    "County health officials said overdose deaths fell by a fifth this year after "
    "naloxone kits were handed out at pharmacies, shelters and libraries. The program "
    "will expand to rural clinics next spring, with training for staff and volunteers."
)


def _item() -> dict[str, Any]:
    return {
        "item_id": 7,
        "title": "Naloxone program cut overdose deaths by a fifth",
        "link": "https://news.example.org/news/naloxone-program",
        "summary_html": f"<p>{SUMMARY}</p>",
        "summary_text": SUMMARY,
        "image_url": "https://news.example.org/images/naloxone.jpg",
        "image_alt": "A pharmacist hands out a naloxone kit",
        "author": "Health Desk",
        "published_at": datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        "topic_names": ["Overdose prevention"],
    }


def _correction() -> dict[str, Any]:
    return {
        "kind": "correction",
        "note": "An earlier version gave the wrong county; the figures are for Lane County.",
        "created_at": datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        "old_title": "Naloxone program cut overdose deaths by a fifth",
        "new_title": "Lane County naloxone program cut overdose deaths by a fifth",
        "old_summary_text": SUMMARY,
        "new_summary_text": SUMMARY.replace("County", "Lane County"),
        "old_summary_html": f"<p>{SUMMARY}</p>",
        "new_summary_html": f"<p>{SUMMARY.replace('County', 'Lane County')}</p>",
        "item_id": 7,
    }


# kind -> (payload, mailing content or None for transactional mail, list id)
def _kinds(settings: Settings) -> dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    return {
        "confirm": ({"confirmation_id": 3, "nonce": "00" * 16}, None),
        "already_subscribed": (None, None),
        "welcome": (None, None),
        "digest": (None, sample_digest_content(3, settings.base_url)),
        "alert": (None, alerts.content(settings, cast(Any, _item()), "alert-7")),
        "correction": (None, corrections.content(settings, _correction())),
    }


KINDS = ("confirm", "already_subscribed", "welcome", "digest", "alert", "correction")


def render_every_kind(
    settings: Settings, *, dkim: Callable[[bytes], bytes] | None = None
) -> dict[str, bytes]:
    """kind -> the bytes that would go on the wire to one subscriber."""
    return {kind: outgoing[0].data for kind, outgoing in compose_every_kind(settings, dkim).items()}


def compose_every_kind(
    settings: Settings, dkim: Callable[[bytes], bytes] | None = None
) -> dict[str, tuple[Outgoing, Outgoing]]:
    """kind -> one subscriber's message as composed, and as the worker asks for it (wire=True)
    from the same compiled message."""
    composer = Composer(
        cast(asyncpg.Pool, None),  # only mailings are read from the database: given here
        settings,
        template_dirs=[Path("templates")],
        slot_providers=standard_slot_providers(settings),
        dkim=dkim,
    )
    out: dict[str, tuple[Outgoing, Outgoing]] = {}
    for number, (kind, (payload, mailing)) in enumerate(_kinds(settings).items(), start=1):
        bulk = mailing is not None
        compiled = composer.compile_kind(
            kind,
            mailing or {},
            list_id=f"Health News {kind} <{kind}.news.health.example.org>" if bulk else None,
            mailing_id=number if bulk else None,
            bulk=bulk,
        )
        delivery = ClaimedDelivery(
            delivery_id=1000 + number,
            mailing_id=number if bulk else None,
            subscriber_id=42,
            kind=kind,
            recipient="zoe.reader@example.net",
            payload=payload,
            item_ids=None,
            attempts=0,
            created_at=datetime(2026, 11, 26, 16, 0, tzinfo=UTC),
            name="Zoë Reader",
            key_version=1,
            plain_text_only=False,
        )
        out[kind] = (
            composer.build(compiled, delivery),
            composer.build(compiled, delivery, wire=True),
        )
    return out
