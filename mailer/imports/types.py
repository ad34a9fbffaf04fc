"""The words of a subscriber import: modes, options, the summary and progress it reports,
and how topic names in a file find their topics."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mailer.audience.topics import slug_for
from mailer.db import Connection, load_queries
from mailer.errors import InvalidInput

Q = load_queries("imports/importer")


class Mode(StrEnum):
    CONSENTED = "consented"  # the file is proof of prior opt-in: rows become active
    OPT_IN = "opt_in"  # each new row gets a confirmation request


class UnknownTopics(StrEnum):
    REJECT = "reject"  # the row goes to the rejects file
    CREATE = "create"  # a hidden topic is created (an editor publishes it)
    IGNORE = "ignore"  # the name is dropped; the row is imported with the others


@dataclass(frozen=True)
class ImportOptions:
    mode: Mode
    source: str | None = None  # the consent source note; required with CONSENTED
    consent_text: str | None = None  # the wording they originally agreed to, if known
    topics: tuple[str, ...] = ()  # topic slugs or names added to every row
    unknown_topics: UnknownTopics = UnknownTopics.REJECT
    dry_run: bool = False
    chunk_size: int = 10_000
    confirm_rate: float = 20.0  # opt-in confirmation requests per second, at most
    requested_by: str = "cli"


REASONS = {
    "duplicate": "the address is on line {first} already (the first row of an address wins)",
    "suppressed": "the address is suppressed (bounced, complained or blocked): never imported",
    "erased": "the address was erased on request: never imported again",
    "unsubscribed": "unsubscribed: stays unsubscribed (only --consented with a consent time "
    "newer than the unsubscribe brings it back)",
    "resubscribed": "the file's unsubscribe is older than their latest confirmation here",
    "concurrent": "the address signed up during the import: run the import again for it",
}


def check_options(options: ImportOptions) -> None:
    problems = {}
    if options.mode is Mode.CONSENTED and not (options.source or "").strip():
        problems["source"] = (
            "required with --consented: where and how these people opted in, "
            "e.g. 'Mailchimp list Health News, double opt-in, exported 2026-11-01'"
        )
    if len(options.source or "") > 500:
        problems["source"] = "at most 500 characters"
    if not 100 <= options.chunk_size <= 200_000:
        problems["chunk_size"] = "between 100 and 200,000 rows"
    if not 0 < options.confirm_rate <= 10_000:
        problems["confirm_rate"] = "between 0 and 10,000 per second"
    if problems:
        raise InvalidInput("invalid import options", problems)


@dataclass
class ImportSummary:
    mode: str
    dry_run: bool
    import_id: int | None = None
    rows: int = 0
    created: Counter[str] = field(default_factory=Counter)  # by resulting status
    updated: Counter[str] = field(default_factory=Counter)  # activated, updated, ...
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # by reason key
    confirmations: int = 0
    topics_created: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created.total(),
            "created_by_status": dict(sorted(self.created.items())),
            "updated": self.updated.total(),
            "updated_by_change": dict(sorted(self.updated.items())),
            "unchanged": self.unchanged,
            "skipped": self.skipped.total(),
            "skipped_by_reason": dict(self.skipped.most_common()),
            "confirmations_queued": self.confirmations,
            "topics_created": self.topics_created,
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(self.rows / self.seconds) if self.seconds else None,
        }


@dataclass(frozen=True)
class ImportProgress:
    rows: int
    bytes_read: int
    bytes_total: int
    elapsed: float
    summary: ImportSummary

    @property
    def fraction(self) -> float:
        return min(self.bytes_read / self.bytes_total, 1.0) if self.bytes_total else 1.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if not 0 < self.fraction < 1:
            return None
        return self.elapsed * (1 - self.fraction) / self.fraction


class Topics:
    """Topic names or slugs as written in files -> topic ids (by slug, name, or the slug a
    name would get, all case-insensitively)."""

    def __init__(self, rows: Sequence[Any]) -> None:
        self.ids: dict[str, int] = {}
        self._found: dict[str, int | None] = {}  # as written -> find(), for files' repeats
        self.public = [r["topic_id"] for r in rows if r["public"]]
        for r in rows:
            self._learn(r["slug"], r["topic_id"])
            self._learn(r["name"], r["topic_id"])

    @staticmethod
    def key(text: str) -> str:
        return " ".join(text.split()).casefold()

    def _learn(self, text: str, topic_id: int) -> None:
        self._found.clear()
        self.ids.setdefault(self.key(text), topic_id)
        self.ids.setdefault(self.slug(text), topic_id)

    @staticmethod
    def slug(text: str) -> str:
        slug = slug_for(text)
        if slug == "topic" and Topics.key(text) != "topic":  # a name with no latin letters
            slug = "topic-" + hashlib.sha256(Topics.key(text).encode()).hexdigest()[:8]
        return slug

    def find(self, text: str) -> int | None:
        if text in self._found:
            return self._found[text]
        found = self.ids.get(self.key(text)) or self.ids.get(self.slug(text))
        if len(self._found) < 10_000:
            self._found[text] = found
        return found

    async def create(self, conn: Connection, names: Sequence[str]) -> list[str]:
        """Hidden topics for names not known yet; returns the slugs created."""
        made = []
        for name in names:
            slug = self.slug(name)
            topic_id = await conn.fetchval(Q["create_topic"], slug, name[:100])
            if topic_id is None:
                topic_id = await conn.fetchval(Q["topic_by_slug"], slug)
            else:
                made.append(slug)
            self._learn(name, topic_id)
        return made

    def forget(self, names: Sequence[str]) -> None:
        self._found.clear()
        for name in names:
            self.ids.pop(self.key(name), None)
            self.ids.pop(self.slug(name), None)
