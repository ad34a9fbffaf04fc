"""Fictional public-health content for demos, tests and benchmarks."""

from __future__ import annotations

from typing import Any

DEMO_TOPICS = (
    "Overdose Prevention",
    "Tobacco Control",
    "Road Safety",
    "Environmental Health",
)

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
