"""Whole numbers read from text that people and programs send (paths, queries, forms)."""

from __future__ import annotations


def whole_number(text: str, *, max_digits: int = 18) -> int | None:
    """The number `text` spells in ASCII digits, or None. `str.isdigit()` alone lets "²"
    through (int() refuses it: a 500) and "٣" (int() reads it: a surprise); more than 18
    digits would overflow PostgreSQL's bigint."""
    if text and len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def counted(n: int, one: str, many: str | None = None) -> str:
    """ "1 person", "2 people", "1,204 subscribers": a count with its noun agreeing."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def people(n: int) -> str:
    return counted(n, "person", "people")
