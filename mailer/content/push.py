"""Items pushed by the CMS (POST /webhooks/content): upsert a batch, delete or hide by id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mailer.content.items import Q, store_items, topic_ids_by_slug
from mailer.content.parse import ParsedItem, canonical_link, parse_iso_date
from mailer.content.sanitise import clean_line, sanitise_html, to_text
from mailer.db import Connection
from mailer.errors import InvalidInput

FUTURE_LEEWAY = timedelta(days=1)  # clocks and time zones differ; feeds allow the same

MAX_BATCH = 500


@dataclass(frozen=True)
class PushOutcome:
    items: list[dict[str, Any]]  # {"id": cms id, "item_id": ours}
    deleted: list[str]
    hidden: list[str]


def _item(raw: Any, index: int, problems: dict[str, str]) -> tuple[ParsedItem, list[str]] | None:
    where = f"items[{index}]"
    if not isinstance(raw, dict):
        problems[where] = "must be an object"
        return None
    identifier = raw.get("id")
    if not isinstance(identifier, (str, int)) or not str(identifier).strip():
        problems[f"{where}.id"] = "required (the CMS's id of the item)"
        return None
    title = clean_line(raw.get("title") if isinstance(raw.get("title"), str) else None, 300)
    if not title:
        problems[f"{where}.title"] = "required"
        return None
    texts = {k: raw.get(k) for k in ("url", "summary_html", "image_url", "image_alt", "author",
                                     "language", "published")}  # fmt: skip
    for key, value in texts.items():
        if value is not None and not isinstance(value, str):
            problems[f"{where}.{key}"] = "must be a string"
    published = texts["published"]
    moment = parse_iso_date(published) if isinstance(published, str) else None
    if isinstance(published, str) and published.strip() and moment is None:
        # Dropped silently, the item would be dated when it arrived, and nobody would know.
        problems[f"{where}.published"] = "an ISO 8601 date and time, e.g. 2026-11-20T10:00:00Z"
    elif moment is not None and moment > datetime.now(UTC) + FUTURE_LEEWAY:
        # It would top every list for years; an embargoed story must not be pushed before
        # it is public (a digest could carry it).
        problems[f"{where}.published"] = "is in the future: push an item once it is published"
    topics = raw.get("topics", [])
    categories = raw.get("categories", [])
    for key, value in (("topics", topics), ("categories", categories)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems[f"{where}.{key}"] = "must be a list of strings"
    if any(k.startswith(where) for k in problems):
        return None
    link = canonical_link(texts["url"])
    summary = sanitise_html(texts["summary_html"] or "", link)
    return (
        ParsedItem(
            guid=str(identifier).strip()[:500],
            link=link,
            title=title,
            summary_html=summary,
            summary_text=to_text(summary),
            image_url=canonical_link(texts["image_url"]),
            image_alt=clean_line(texts["image_alt"], 300),
            author=clean_line(texts["author"], 200),
            published_at=parse_iso_date(texts["published"]),
            categories=tuple(clean_line(c, 100) or "" for c in categories if c.strip()),
            language=clean_line(texts["language"], 35),
        ),
        list(topics),
    )


def _ids(value: Any, key: str, problems: dict[str, str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        problems[key] = "must be a list of ids"
        return []
    return [str(v) for v in value][:MAX_BATCH]


@dataclass(frozen=True)
class ParsedPush:
    items: list[tuple[ParsedItem, list[str]]]  # each with its topic slugs
    delete: list[str]
    hide: list[str]
    # CMS id of a translation -> CMS id of its original (an item pushed now or before)
    translations: dict[str, str] = field(default_factory=dict)


def parse_push(body: dict[str, Any]) -> ParsedPush:
    """One item (an object with an id), or {"items": [...], "delete": [ids], "hide": [ids]};
    InvalidInput naming every bad field."""
    problems: dict[str, str] = {}
    raw_items = body.get("items") if "items" in body else ([body] if "id" in body else [])
    if not isinstance(raw_items, list):
        raise InvalidInput("invalid push", {"items": "must be a list"})
    if len(raw_items) > MAX_BATCH:
        raise InvalidInput("invalid push", {"items": f"at most {MAX_BATCH} per request"})
    parsed = [p for i, raw in enumerate(raw_items) if (p := _item(raw, i, problems))]
    translations = _translations(raw_items, problems)
    delete = _ids(body.get("delete"), "delete", problems)
    hide = _ids(body.get("hide"), "hide", problems)
    if not raw_items and not delete and not hide:
        problems["items"] = "nothing to do: send items, delete or hide"
    if problems:
        raise InvalidInput("invalid push", problems)
    return ParsedPush(parsed, delete, hide, translations)


def _translations(raw_items: list[Any], problems: dict[str, str]) -> dict[str, str]:
    """`translation_of`: the CMS id of the item this one translates (same push or before)."""
    links: dict[str, str] = {}
    for index, raw in enumerate(raw_items):
        original = raw.get("translation_of") if isinstance(raw, dict) else None
        if original is None:
            continue
        if not isinstance(original, (str, int)) or not str(original).strip():
            problems[f"items[{index}].translation_of"] = "the CMS id of the original item"
        elif str(original).strip() == str(raw.get("id")).strip():
            problems[f"items[{index}].translation_of"] = "an item cannot translate itself"
        else:
            links[str(raw.get("id")).strip()[:500]] = str(original).strip()[:500]
    return links


async def store_push(conn: Connection, push: ParsedPush) -> PushOutcome:
    """Apply a parsed push in the caller's transaction."""
    known = await topic_ids_by_slug(conn)
    unknown = sorted({t for _, topics in push.items for t in topics if t not in known})
    if unknown:
        raise InvalidInput("invalid push", {"topics": f"unknown topics: {', '.join(unknown[:10])}"})
    source_id: int = await conn.fetchval(Q["push_source"])
    explicit = {item.guid: sorted({known[t] for t in topics}) for item, topics in push.items}
    await store_items(
        conn, source_id, [item for item, _ in push.items], lambda item: explicit[item.guid]
    )
    stored = await conn.fetch(Q["items_by_guid"], source_id, list(explicit))
    ids = {row["guid"]: row["item_id"] for row in stored}
    if push.translations:
        linked = await conn.fetch(
            Q["link_translations"],
            source_id,
            list(push.translations),
            list(push.translations.values()),
        )
        unknown_originals = sorted(set(push.translations) - {r["guid"] for r in linked})
        if unknown_originals:
            raise InvalidInput(
                "invalid push",
                {"translation_of": f"no such original for: {', '.join(unknown_originals[:10])}"},
            )
    gone = await conn.fetch(Q["delete_items_by_guid"], source_id, push.delete)
    hidden = await conn.fetch(Q["hide_items_by_guid"], source_id, push.hide)
    return PushOutcome(
        items=[{"id": guid, "item_id": ids.get(guid)} for guid in explicit],
        deleted=[r["guid"] for r in gone],
        hidden=[r["guid"] for r in hidden],
    )
