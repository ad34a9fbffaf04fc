"""Realistic contexts for each editable mail template: what a template is checked against
before it is saved, and what a preview shows when no real mailing of its kind exists yet.
Each kind has several, so that both sides of a template's conditions are rendered."""

from __future__ import annotations

from typing import Any

_SUMMARY_HTML = (
    "<p>Pharmacies in every district now hand out naloxone without a prescription, the "
    "health department said on Tuesday.</p><p><em>Ask at the counter.</em></p>"
)
_SUMMARY_TEXT = (
    "Pharmacies in every district now hand out naloxone without a prescription, the "
    "health department said on Tuesday. Ask at the counter."
)


def _item(item_id: int, title: str, *, image: bool, author: str | None) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "title": title,
        "url": f"https://news.example.org/story-{item_id}",
        "summary_html": _SUMMARY_HTML,
        "summary_text": _SUMMARY_TEXT,
        "image_url": f"https://news.example.org/images/{item_id}.jpg" if image else None,
        "image_alt": "A pharmacist at the counter" if image else None,
        "published": "03 March 2026",
        "published_on": "2026-03-03",
        "author": author,
    }


def _digest(base_url: str, *, intro: bool, grouped: bool) -> dict[str, Any]:
    first = _item(1, "Naloxone in every pharmacy", image=True, author="Health Desk")
    second = _item(2, "Measles cases fall for a third month", image=False, author=None)
    both = _item(3, "School nurses trained in overdose response", image=False, author=None)
    if grouped:  # the third item has two topics: it stands under both headings
        placed = [{**both, "topic_id": t, "topic_order": [1, 2]} for t in (1, 2)]
        sections = [
            {"topic": "Overdose Prevention", "item_ids": [1, 3], "items": [first, placed[0]]},
            {"topic": "Vaccines", "item_ids": [2, 3], "items": [second, placed[1]]},
        ]
    else:
        sections = [{"topic": "", "item_ids": [1, 2, 3], "items": [first, second, both]}]
    return {
        "subject": "Weekly news — 03 March 2026",
        "preheader": "Overdose Prevention · Vaccines",
        "intro_html": "<p>This week: <strong>naloxone</strong> for everyone.</p>" if intro else "",
        "intro_text": "This week: naloxone for everyone." if intro else "",
        "sections": sections,
        "archive_url": f"{base_url}/archive/weekly-2026-03-03" if intro else "",
        "item_count": 3,
        "texts": {},
    }


def _alert(base_url: str, *, image: bool) -> dict[str, Any]:
    return {
        "subject": "Urgent: Contaminated supply found in the north district",
        "preheader": _SUMMARY_TEXT[:150],
        "topics": "Overdose Prevention, Vaccines",
        "archive_url": f"{base_url}/archive/alert-2026-03-03-ab12",
        "item": _item(7, "Contaminated supply found in the north district", image=image,
                      author="Health Desk" if image else None),
        "texts": {},
    }  # fmt: skip


def _correction(base_url: str, *, retraction: bool) -> dict[str, Any]:
    return {
        "subject": f"Correction: {'Retracted: ' if retraction else ''}Measles cases fall",
        "preheader": "The figure for February was wrong.",
        "retraction": retraction,
        "note": "The figure for February was wrong: 12 cases, not 21.",
        "date": "04 March 2026",
        "date_on": "2026-03-04",
        "title": "Measles cases fall for a third month",
        "old_title": "Measles cases fall",
        "title_changed": True,
        "summary_changed": True,
        "old_summary_text": "21 cases in February.",
        "new_summary_text": "12 cases in February.",
        "old_summary_html": "<p>21 cases in February.</p>",
        "new_summary_html": "<p>12 cases in February.</p>",
        "item_url": f"{base_url}/archive/items/2",
        "texts": {},
    }


def sample_contexts(kind: str, base_url: str) -> list[dict[str, Any]]:
    """Contexts a template of `kind` must render with (org and signup terms are added by
    the compiler's caller). Transactional kinds need nothing beyond those."""
    if kind == "digest":
        return [
            _digest(base_url, intro=True, grouped=True),
            _digest(base_url, intro=False, grouped=False),
        ]
    if kind == "alert":
        return [_alert(base_url, image=True), _alert(base_url, image=False)]
    if kind == "correction":
        return [_correction(base_url, retraction=False), _correction(base_url, retraction=True)]
    return [{}]
