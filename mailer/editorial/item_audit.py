"""An item's audit: who received it, when, through which digests or alerts, and which
corrections followed (read from the delivery ledger, nothing kept on the side)."""

from __future__ import annotations

from typing import Any

import asyncpg

from mailer.db import record_json
from mailer.editorial.corrections import Q, list_corrections
from mailer.errors import NotFound
from mailer.numbers import counted, people


async def audit(pool: asyncpg.Pool, item_id: int, base_url: str) -> dict[str, Any]:
    """JSON-ready: the item, its receivers (people, deliveries, first and last send), each
    mailing that carried it (drafts and cancelled ones too, with their counts), and its
    corrections with the state of their notices."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        item = await conn.fetchrow(Q["audit_item"], item_id)
        if item is None:
            raise NotFound(f"item {item_id} does not exist")
        receivers = await conn.fetchrow(Q["audit_receivers"], item_id)
        mailings = await conn.fetch(Q["audit_mailings"], item_id)
    assert receivers is not None
    return {
        "item": record_json(item),
        "received": record_json(receivers),
        "mailings": [
            {
                **record_json(m),
                "archive_url": f"{base_url}/archive/{m['slug']}"
                if m["slug"] and m["status"] in ("sending", "sent")
                else None,
            }
            for m in mailings
        ],
        "corrections": await list_corrections(pool, item_id=item_id),
    }


def format_audit(report: dict[str, Any]) -> str:
    """The audit as an editor reads it in a terminal."""
    item, received = report["item"], report["received"]
    lines = [f"Item {item['item_id']}: {item['title']}"]
    if item["hidden"]:
        lines.append("  (hidden)")
    if received["people"]:
        mails = counted(received["deliveries"], "mail")
        lines.append(
            f"Received by {people(received['people'])} ({mails}), "
            f"first {_when(received['first_sent_at'])}, last {_when(received['last_sent_at'])}"
        )
    else:
        lines.append("Received by nobody yet")
    for m in report["mailings"]:
        pending = f", {m['pending']:,} still queued" if m["pending"] else ""
        lines.append(
            f"  {m['kind']:<7} {m['mailing_id']:>6}  {m['status']:<9} {m['sent']:>8,} sent"
            f"{pending}  {m['subject']}"
        )
    for c in report["corrections"]:
        notice = (
            f"notice {c['notice_status']}, {c['sent']:,} of {c['recipients']:,} sent"
            if c["mailing_id"]
            else "no notice (nobody left to tell)"
        )
        lines.append(f"{c['kind'].capitalize()} {c['correction_id']} on {_when(c['created_at'])}:")
        lines.append(f"  {c['note']}")
        lines.append(f"  {notice}")
    return "\n".join(lines)


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "-"
