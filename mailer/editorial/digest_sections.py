"""A digest's items arranged for its readers: under topic headings, or exactly as ordered.

By topic, a heading stands where its topic's first item does, and an item of several
topics stands under each of their headings; each copy carries its heading's topic and the
item's topics in heading order, so that a reader sees it once, under the first heading
whose topic they chose (mailer/delivery/mail_env.py: only_for)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

MORE_NEWS = "More news"  # the heading of items whose topics are all gone


def arrange(
    rows: Iterable[Any],
    *,
    by_topic: bool,
    view: Callable[[Any], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Sections ({"topic", "item_ids", "items"}) from rows in the editor's order, each row
    with item_id, topic_order (topic ids) and topic_names; `view` makes an item's dict."""
    sections: list[dict[str, Any]] = []
    placed: dict[int | None, dict[str, Any]] = {}
    several: list[dict[str, Any]] = []
    for row in rows:
        item = view(row)
        if not by_topic:
            headings: list[tuple[int | None, str]] = [(None, "")]
        else:
            headings = list(zip(row["topic_order"], row["topic_names"], strict=True))
            headings = headings or [(None, MORE_NEWS)]
        for topic_id, name in headings:
            section = placed.get(topic_id)
            if section is None:
                section = placed[topic_id] = {"topic": name, "item_ids": [], "items": []}
                sections.append(section)
            copy = item
            if len(headings) > 1:
                copy = {**item, "topic_id": topic_id, "topic_order": [t for t, _ in headings]}
                several.append(copy)
            section["item_ids"].append(row["item_id"])
            section["items"].append(copy)
    # "First" means first in the mail: an item's topics in the order of their headings.
    where = {topic_id: index for index, topic_id in enumerate(placed)}
    for copy in several:
        copy["topic_order"].sort(key=where.__getitem__)
    return sections


def item_count(sections: Iterable[Mapping[str, Any]]) -> int:
    """How many different items the sections hold (an item under two headings is one)."""
    return len({item_id for section in sections for item_id in section["item_ids"]})
