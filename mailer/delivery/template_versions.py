"""Mail templates saved in the console, kept as versions: the newest version of a kind is
in force, ahead of the data dir's files and the bundled templates (a "default" version
hands the kind back to the files). Workers read the versions in force once per mailing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.db import Connection, load_queries

Q = load_queries("delivery/template_versions")

KINDS = ("digest", "alert", "correction", "confirm", "welcome")  # editable in the console
PARTS = ("subject.txt", "body.txt", "body.html")  # each version holds all three
_COLUMNS = {"subject.txt": "subject_txt", "body.txt": "body_txt", "body.html": "body_html"}
ACTIONS = ("saved", "reverted", "default")


def template_name(kind: str, part: str) -> str:
    return f"email/{kind}/{part}"


@dataclass(frozen=True)
class InForce:
    """The saved versions in force: template name -> source, and kind -> version id."""

    sources: dict[str, str]
    versions: dict[str, int]

    def without(self, kind: str) -> dict[str, str]:
        """The sources with one kind left to the files (its saved version failed)."""
        prefix = f"email/{kind}/"
        return {name: s for name, s in self.sources.items() if not name.startswith(prefix)}


def parts_of(row: Any) -> dict[str, str] | None:
    """A version's three parts by file name (None: a "back to the default" version)."""
    if row["subject_txt"] is None:
        return None
    return {part: str(row[column]) for part, column in _COLUMNS.items()}


async def in_force(pool: asyncpg.Pool | Connection) -> InForce:
    """The versions in force, in one query (a worker asks once per mailing it compiles)."""
    sources: dict[str, str] = {}
    versions: dict[str, int] = {}
    for row in await pool.fetch(Q["current_versions"]):
        parts = parts_of(row)
        if parts is None:
            continue
        versions[row["kind"]] = row["version_id"]
        for part, source in parts.items():
            sources[template_name(row["kind"], part)] = source
    return InForce(sources, versions)


async def list_versions(pool: asyncpg.Pool, kind: str, limit: int = 200) -> list[asyncpg.Record]:
    """A kind's versions, newest (the one in force) first."""
    return await pool.fetch(Q["list_versions"], kind, limit)


async def get_version(pool: asyncpg.Pool, kind: str, version_id: int) -> asyncpg.Record | None:
    return await pool.fetchrow(Q["get_version"], version_id, kind)


async def add_version(
    conn: Connection,
    kind: str,
    parts: Mapping[str, str] | None,
    *,
    action: str,
    editor_id: int | None,
    editor_email: str,
    reverted_from: int | None = None,
) -> asyncpg.Record:
    """A new version in force (parts None: back to the files). The caller's transaction
    makes it, after its checks; saves of one kind take turns."""
    if kind not in KINDS or action not in ACTIONS:
        raise ValueError(f"no such kind or action: {kind}, {action}")
    await conn.execute(Q["lock_kind"], kind)
    values = [None, None, None] if parts is None else [parts[p] for p in PARTS]
    row = await conn.fetchrow(
        Q["add_version"], kind, *values, action, reverted_from, editor_id, editor_email
    )
    assert row is not None  # INSERT ... RETURNING
    return row


async def mark_failed(pool: asyncpg.Pool, version_id: int, problem: str) -> None:
    """Note on a version that it did not compile for a real mailing (the console shows it)."""
    await pool.execute(Q["mark_failed"], version_id, problem[:2000])
