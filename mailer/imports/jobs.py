"""The record of each import (who, what file, which mode, progress, outcome), where its
rejects go (a file for the CLI, a table for the API), and the imports a web process runs."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from mailer.db import Connection, load_queries, record_json
from mailer.errors import InvalidInput, NotFound
from mailer.imports.read import SourceFormat

Q = load_queries("imports/jobs")
log = logging.getLogger(__name__)

# A running import writes its record at least once per chunk; one silent for this long
# belongs to a process that died.
STALE_SECONDS = 300.0

Rejected = tuple[int, list[str], str, str]  # line, cells as read, reason key, reason


class RejectSink(Protocol):
    async def write(self, conn: Connection, rejected: Sequence[Rejected]) -> None: ...


class RejectsLayout:
    """How rejects read: CSV with the input's columns plus `reason` and `line` (in the
    input's delimiter, so it opens like the input and can be fixed and imported again), or
    JSON Lines {line, reason, record}. The CSV header comes with the first piece."""

    def __init__(self, fmt: SourceFormat, headers: list[str], delimiter: str) -> None:
        self.format = fmt
        self.headers = headers
        self.delimiter = delimiter or ","
        self.started = False

    def render(self, rejected: Sequence[Rejected]) -> str:
        out = io.StringIO()
        if self.format is SourceFormat.CSV:
            writer = csv.writer(out, delimiter=self.delimiter)
            if not self.started:
                writer.writerow([*self.headers, "reason", "line"])
            for line, cells, _key, reason in rejected:
                padded = cells + [""] * (len(self.headers) - len(cells))
                writer.writerow([*padded, reason, line])
        else:
            for line, cells, _key, reason in rejected:
                try:
                    record: Any = json.loads(cells[0])
                except ValueError:
                    record = cells[0]
                out.write(json.dumps({"line": line, "reason": reason, "record": record}) + "\n")
        self.started = True
        return out.getvalue()


class FileRejects:
    """The CLI's rejects file, next to the input unless named: created at the first
    reject; one left by an earlier run is removed when the import starts."""

    def __init__(self, path: Path, fmt: SourceFormat, headers: list[str], delimiter: str) -> None:
        self.path = path
        self.layout = RejectsLayout(fmt, headers, delimiter)
        self.count = 0
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise InvalidInput(
                f"cannot write the rejects file {str(path)!r}", {"rejects": "name a writable path"}
            )
        path.unlink(missing_ok=True)

    async def write(self, conn: Connection, rejected: Sequence[Rejected]) -> None:
        if rejected:
            with self.path.open("a", encoding="utf-8", newline="") as handle:
                handle.write(self.layout.render(rejected))
            self.count += len(rejected)


class TableRejects:
    """Rejects of an API import, kept with its record (same transaction as the chunk)."""

    def __init__(self, import_id: int) -> None:
        self.import_id = import_id

    async def write(self, conn: Connection, rejected: Sequence[Rejected]) -> None:
        if rejected:
            await conn.copy_records_to_table(
                "subscriber_import_rejects",
                records=[
                    (self.import_id, line, key, reason, cells)
                    for line, cells, key, reason in rejected
                ],
                columns=["import_id", "line", "reason_key", "reason", "cells"],
            )


async def create_import(
    conn: Connection,
    *,
    mode: str,
    dry_run: bool,
    source: str | None,
    file_name: str,
    file_bytes: int | None,
    options: dict[str, Any],
    requested_by: str,
    columns: list[str] | None,
) -> int:
    import_id: int = await conn.fetchval(
        Q["create_import"],
        mode,
        dry_run,
        source,
        file_name[:300],
        file_bytes,
        options,
        requested_by,
        columns,
    )
    return import_id


async def record_progress(
    conn: Connection,
    import_id: int,
    *,
    rows: int,
    bytes_read: int,
    summary: dict[str, Any],
    columns: list[str] | None = None,
) -> None:
    await conn.execute(Q["record_progress"], import_id, rows, bytes_read, summary, columns)


async def finish_import(
    pool: asyncpg.Pool,
    import_id: int,
    status: str,
    summary: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    await pool.execute(Q["finish_import"], import_id, status, summary, error)


async def get_import(pool: asyncpg.Pool, import_id: int) -> dict[str, Any]:
    row = await pool.fetchrow(Q["get_import"], import_id, STALE_SECONDS)
    if row is None:
        raise NotFound(f"import {import_id} does not exist")
    return record_json(row)


async def iter_rejects(
    pool: asyncpg.Pool, import_id: int
) -> tuple[list[str] | None, SourceFormat, AsyncIterator[asyncpg.Record]]:
    """The header of the file and its rejects in line order, streamed with a cursor."""
    found = await pool.fetchrow(Q["import_columns"], import_id)
    if found is None:
        raise NotFound(f"import {import_id} does not exist")
    fmt = SourceFormat((found["options"] or {}).get("format") or "csv")

    async def rows() -> AsyncIterator[asyncpg.Record]:
        async with pool.acquire() as conn, conn.transaction():
            async for row in conn.cursor(Q["list_rejects"], import_id, prefetch=1000):
                yield row

    return found["columns"], fmt, rows()


class ImportRunner:
    """The imports one web process runs in the background: started with the request that
    uploaded the file, cancelled at shutdown (the chunk in progress rolls back, the record
    says 'interrupted'; running the same file again converges)."""

    def __init__(self) -> None:
        self.tasks: dict[int, asyncio.Task[Any]] = {}

    def start(self, import_id: int, work: Awaitable[Any]) -> asyncio.Task[Any]:
        async def run() -> Any:
            return await work

        task = asyncio.create_task(run(), name=f"import-{import_id}")
        self.tasks[import_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(import_id, None))
        return task

    async def stop(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
