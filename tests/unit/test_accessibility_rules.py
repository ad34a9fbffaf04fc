"""Accessibility rules checked in the templates and styles themselves: the focus ring's
contrast (WCAG 1.4.11), a control's name containing its visible label (WCAG 2.5.3), and
readable footer links in mails on a phone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert contrast("#f0b400", "#ffffff") < 3  # the ring this replaced


def test_focus_rings_have_3_to_1_against_white_and_the_soft_background() -> None:
    css = (ROOT / "mailer/static/console.css").read_text()
    found = re.search(r"--focus:\s*(#[0-9a-fA-F]{6})", css)
    assert found
    base = (TEMPLATES / "web/base.html").read_text()
    ring = re.search(r":focus-visible\s*\{[^}]*outline:\s*\d+px solid (#[0-9a-fA-F]{6})", base)
    assert ring
    for colour in (found.group(1), ring.group(1)):
        assert contrast(colour, "#ffffff") >= 3, colour
        assert contrast(colour, "#f3f5f8") >= 3, colour


_CONTROL = re.compile(
    r"<(button|a)\b[^>]*\baria-label=\"([^\"]*)\"[^>]*>([^<{]*[A-Za-z][^<{]*)<", re.S
)


def test_accessible_names_contain_the_visible_label() -> None:
    checked = 0
    for path in TEMPLATES.rglob("*.html"):
        for _, name, label in _CONTROL.findall(path.read_text()):
            visible = " ".join(label.split())
            assert visible.lower() in name.lower(), f"{path.name}: {visible!r} vs {name!r}"
            checked += 1
    assert checked >= 5


def test_mail_footer_text_is_readable_on_a_phone() -> None:
    layout = (TEMPLATES / "email/_layout/base.html").read_text()
    footer = re.search(r"^\.footer \{[^}]*font-size: (\d+)px", layout, re.M)
    assert footer and int(footer.group(1)) >= 14
    phone = layout[layout.index("@media (max-width") :]
    small_screen = re.search(r"\.footer \{[^}]*font-size: (\d+)px", phone)
    assert small_screen and int(small_screen.group(1)) >= 16
