"""Fictional public-health content for demos, tests and benchmarks."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

DEMO_TOPICS = (
    "Overdose Prevention",
    "Tobacco Control",
    "Road Safety",
    "Environmental Health",
)

# What the first run in development seeds (mailer/demo/seed.py).
DEMO_TOPIC_DESCRIPTIONS = {
    "Overdose Prevention": "Naloxone, drug checking and harm reduction",
    "Tobacco Control": "Smoking, vaping and the rules that govern them",
    "Road Safety": "Speed limits, safer streets and injury figures",
    "Environmental Health": "Air, water, heat and the places we live",
}
DEMO_SERIES_NAME = "Weekly public health news"
DEMO_SERIES_CRON = "0 9 * * mon"  # Mondays 09:00; a draft waits for an editor
DEMO_SERIES_TIMEZONE = "UTC"
DEMO_FEED_NAME = "Newsroom demo feed (fictional stories)"
DEMO_FEED_POLL_SECONDS = 300
DEMO_ADMIN_EMAIL = "admin@example.org"
DEMO_ADMIN_NAME = "Demo Admin"

DEMO_FEED_FILE = Path(__file__).resolve().parent / "feed" / "feed.xml"
# Our own bundled file, not input: its RFC 822 dates are found by their elements' names.
_FEED_DATE = re.compile(r"<(pubDate|lastBuildDate)>([^<]+)</\1>")


def demo_feed(anchor: datetime) -> bytes:
    """The bundled demo feed with every date moved by the same amount, so that its
    lastBuildDate is `anchor` (an aware time): the same anchor gives the same bytes."""
    text = DEMO_FEED_FILE.read_text(encoding="utf-8")
    built = _FEED_DATE.search(text.split("<item>", 1)[0])
    if built is None or built.group(1) != "lastBuildDate":
        raise ValueError(f"{DEMO_FEED_FILE} has no lastBuildDate before its first item")
    shift = anchor.replace(microsecond=0) - parsedate_to_datetime(built.group(2))

    def moved(match: re.Match[str]) -> str:
        when = parsedate_to_datetime(match.group(2)) + shift
        return f"<{match.group(1)}>{format_datetime(when)}</{match.group(1)}>"

    return _FEED_DATE.sub(moved, text).encode("utf-8")


_SUMMARY = (
    "Community health workers in three districts report that {what} since the programme began. "
    "Our reporters spoke with clinicians, outreach staff and families about what changed, what "
    "did not, and which questions remain open for the next year of funding."
)
_WHAT = (
    "naloxone kits reached twice as many households",
    "smoke-free housing rules cut second-hand exposure",
    "lower speed limits near schools reduced injuries",
    "lead testing of tap water found fewer hot spots",
)


def sample_digest_content(
    items_per_topic: int = 6, base_url: str = "https://news.example.org"
) -> dict[str, Any]:
    """A digest's template context: sections per topic, each item with an id."""
    sections = []
    item_id = 0
    for topic_index, topic in enumerate(DEMO_TOPICS):
        items = []
        for n in range(items_per_topic):
            item_id += 1
            what = _WHAT[topic_index % len(_WHAT)]
            summary = _SUMMARY.format(what=what)
            items.append(
                {
                    "item_id": item_id,
                    "title": f"{topic}: field report {n + 1} — what the numbers say",
                    "url": f"{base_url}/news/{topic.lower().replace(' ', '-')}-{n + 1}",
                    "summary_html": f"<p>{summary}</p><p><em>Interview with an expert</em>.</p>",
                    "summary_text": summary,
                    "image_url": f"{base_url}/images/{item_id}.jpg",
                    "image_alt": f"Photo for {topic} report {n + 1}",
                    "published": "26 November 2026",
                    "author": "Health Desk",
                }
            )
        sections.append({"topic": topic, "item_ids": [i["item_id"] for i in items], "items": items})
    return {
        "subject": "Weekly public health news",
        "preheader": "Overdose prevention, tobacco control, road safety and more this week",
        "intro_html": "<p>This week: new field reports from our newsroom.</p>",
        "intro_text": "This week: new field reports from our newsroom.",
        "sections": sections,
        "archive_url": f"{base_url}/archive/weekly-2026-11-26",
    }
