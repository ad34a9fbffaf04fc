"""Importing subscribers from a CSV or JSON Lines file, a chunk per transaction.

The file streams through: a chunk of rows is read, checked and normalised (in an executor,
while the previous chunk merges), then COPYed into a staging table and merged set-based,
with everything it causes, in one transaction. A killed import leaves whole chunks behind,
and running it again converges on the same subscribers (rows already applied are
unchanged). A dry run merges each chunk and rolls it back: the same report, nothing kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import asyncpg

from mailer.audience.consent import save_consent_text
from mailer.config import Settings
from mailer.db import Connection, load_queries
from mailer.errors import InvalidInput
from mailer.imports import jobs as import_jobs
from mailer.imports.merge import (
    MergeContext,
    Pacing,
    leave_clean,
    mark_seen,
    merge,
    prepare,
    stage,
    stage_record,
)
from mailer.imports.read import ImportFile, Record
from mailer.imports.rows import Reject, Row, Rules, normalise_rows, normalise_rows_plain
from mailer.imports.types import (
    REASONS,
    ImportOptions,
    ImportProgress,
    ImportSummary,
    Mode,
    Topics,
    UnknownTopics,
    check_options,
)
from mailer.tokens import Signer

Q = load_queries("imports/importer")
SLICE = 2_500  # rows an executor job normalises


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Run:
    """One import in progress: its connection, topics, counts and rejects."""

    def __init__(
        self,
        conn: Connection,
        source: ImportFile,
        options: ImportOptions,
        ctx: MergeContext,
        topics: Topics,
        rejects: import_jobs.RejectSink,
        summary: ImportSummary,
    ) -> None:
        self.conn = conn
        self.source = source
        self.options = options
        self.ctx = ctx
        self.topics = topics
        self.rejects = rejects
        self.summary = summary
        self.extra = list(options.topics)

    def _topic_ids(self, row: Row, unknown: set[str]) -> tuple[list[int], bool, list[str]]:
        names = [*(row.topics or ()), *self.extra]
        ids, missing = [], []
        for name in names:
            topic_id = self.topics.find(name)
            if topic_id is None:
                missing.append(name)
                unknown.add(name)
            elif topic_id not in ids:
                ids.append(topic_id)
        given = row.topics is not None or bool(self.extra)
        if self.options.unknown_topics is UnknownTopics.IGNORE and missing and not ids:
            given = bool(self.extra)  # only unknown names: as if the row named none
        return ids, given, missing

    async def apply(self, chunk: list[Record], rows: list[Row], refused: list[Reject]) -> None:
        by_line = {record.line: record for record in chunk}
        rejected: list[import_jobs.Rejected] = []

        def reject(line: int, key: str, message: str) -> None:
            rejected.append((line, by_line[line].cells, key, message))
            self.summary.skipped[key] += 1

        for record in chunk:
            if record.problem is not None:
                reject(record.line, *record.problem)
        for r in refused:
            reject(r.line, r.key, r.message)
        unknown: set[str] = set()
        # Files repeat a few topic cells: each is looked up once per chunk.
        found: dict[tuple[str, ...] | None, tuple[list[int], bool, list[str]]] = {}
        planned = []
        for row in rows:
            plan = found.get(row.topics)
            if plan is None:
                plan = found[row.topics] = self._topic_ids(row, unknown)
            planned.append((row, *plan))
        create = self.options.unknown_topics is UnknownTopics.CREATE
        tx = self.conn.transaction()
        await tx.start()
        try:
            made = (
                await self.topics.create(self.conn, sorted(unknown)) if create and unknown else []
            )
            records, keys, lines = [], [], []
            first_line: dict[str, int] = {}
            for row, ids, given, missing in planned:
                if missing and create:
                    ids = [
                        i
                        for i in (self.topics.find(n) for n in [*(row.topics or ()), *self.extra])
                        if i
                    ]
                    ids = list(dict.fromkeys(ids))
                elif missing and self.options.unknown_topics is UnknownTopics.REJECT:
                    shown = ", ".join(repr(m[:40]) for m in missing[:5])
                    reject(row.line, "unknown_topic", f"unknown topic {shown} (create it, or "
                           "import with --create-topics or --ignore-unknown-topics)")  # fmt: skip
                    continue
                first = first_line.setdefault(row.email_key, row.line)
                if first != row.line:
                    reject(row.line, "duplicate", REASONS["duplicate"].format(first=first))
                    continue
                records.append(stage_record(row, ids, given))
                keys.append(row.email_key)
                lines.append(row.line)
            duplicates = dict(await stage(self.conn, records))
            suppressing = any(row.intent == "suppress" for row, *_ in planned)
            outcome = await merge(self.conn, self.ctx, suppressing=suppressing)
            if self.options.dry_run:
                await tx.rollback()
                self.topics.forget(sorted(unknown))
                tx = self.conn.transaction()
                await tx.start()
            for line, first in sorted(duplicates.items()):
                reject(line, "duplicate", REASONS["duplicate"].format(first=first))
            if self.options.dry_run:  # the staged rows and their seen marks went with the rollback
                fresh = [(k, n) for k, n in zip(keys, lines, strict=True) if n not in duplicates]
                await mark_seen(self.conn, [k for k, _ in fresh], [n for _, n in fresh])
            for line, reason in outcome.skipped:
                reject(line, reason, REASONS[reason])
            self._count(outcome.counts, outcome.confirmations, made)
            rejected.sort()
            await self.rejects.write(self.conn, rejected)
            self.summary.rows += len(chunk)
            if self.ctx.import_id is not None:
                await import_jobs.record_progress(
                    self.conn,
                    self.ctx.import_id,
                    rows=self.summary.rows,
                    bytes_read=self.source.bytes_read,
                    summary=self.summary.as_json(),
                )
            await tx.commit()
        except BaseException:
            await tx.rollback()
            raise

    def _count(self, counts: Counter[tuple[str, str]], confirmations: int, made: list[str]) -> None:
        changes = {"activate": "activated", "update": "updated", "unsubscribe": "unsubscribed",
                   "suppress": "suppressed"}  # fmt: skip
        for (action, detail), n in counts.items():
            if action == "create":
                self.summary.created[detail] += n
            elif action in changes:
                self.summary.updated[changes[action]] += n
            elif action == "unchanged":
                self.summary.unchanged += n
        self.summary.confirmations += confirmations
        for slug in made:
            if slug not in self.summary.topics_created:
                self.summary.topics_created.append(slug)


async def import_subscribers(
    pool: asyncpg.Pool,
    signer: Signer,
    settings: Settings,
    source: ImportFile,
    options: ImportOptions,
    *,
    rejects: import_jobs.RejectSink,
    progress: Callable[[ImportProgress], None] | None = None,
    executor: Executor | None = None,
    import_id: int | None = None,
) -> ImportSummary:
    """Import the file; returns the summary (rows = created + updated + unchanged + skipped).

    One transaction per chunk (options.chunk_size rows); a new import record unless
    `import_id` names one (an API job) or it is a dry run from the CLI."""
    await preflight(pool, options)
    started = time.monotonic()
    summary = ImportSummary(mode=options.mode.value, dry_run=options.dry_run)
    rules = Rules(consented=options.mode is Mode.CONSENTED, now=datetime.now(UTC))
    async with pool.acquire() as conn:
        topics = Topics(await conn.fetch(Q["lookup_topics"]))
        if import_id is None and not options.dry_run:
            import_id = await import_jobs.create_import(
                conn,
                mode=options.mode.value,
                dry_run=False,
                source=options.source,
                file_name=str(source.path),
                file_bytes=source.bytes_total,
                options=describe(options, source),
                requested_by=options.requested_by,
                columns=source.headers or None,
            )
        summary.import_id = import_id
        ctx = MergeContext(
            mode=options.mode.value,
            import_id=import_id,
            source=(options.source or "").strip() or None,
            consent_text_hash=await _consent_text(conn, options),
            default_topic_ids=topics.public,
            signer=signer,
            confirm_ttl_seconds=settings.confirm_ttl_seconds,
            pacing=Pacing(_pace(options.confirm_rate, settings.send_rate)),
            send_confirmations=not options.dry_run,
        )
        await prepare(conn)
        run = _Run(conn, source, options, ctx, topics, rejects, summary)
        try:
            await _pipeline(run, rules, executor, started, progress)
        except BaseException as exc:
            await leave_clean(conn)
            if import_id is not None:
                status = "failed" if isinstance(exc, Exception) else "interrupted"
                await asyncio.shield(
                    import_jobs.finish_import(
                        pool, import_id, status, summary.as_json(), str(exc) or type(exc).__name__
                    )
                )
            raise
        await leave_clean(conn)
    summary.seconds = time.monotonic() - started
    if import_id is not None:
        await import_jobs.finish_import(pool, import_id, "done", summary.as_json())
    return summary


async def preflight(pool: asyncpg.Pool, options: ImportOptions) -> None:
    """InvalidInput for options that cannot work, before anything is read or written."""
    check_options(options)
    topics = Topics(await pool.fetch(Q["lookup_topics"]))
    unknown = [t for t in options.topics if topics.find(t) is None]
    if unknown and options.unknown_topics is not UnknownTopics.CREATE:
        raise InvalidInput(
            "unknown topics", {"topics": f"no topic {', '.join(map(repr, unknown))}"}
        )


def _pace(asked: float, send_rate: float) -> float:
    """Import confirmations take at most half of a limited send rate."""
    return min(asked, send_rate / 2) if send_rate > 0 else asked


async def _consent_text(conn: Connection, options: ImportOptions) -> bytes | None:
    if not options.consent_text or options.dry_run:
        return None
    return await save_consent_text(conn, options.consent_text)


def describe(options: ImportOptions, source: ImportFile) -> dict[str, Any]:
    """The options as kept on the import record."""
    return {
        "format": source.format.value,
        "delimiter": source.delimiter or None,
        "encoding": source.encoding,
        "columns": {f: source.headers[i] for f, i in source.columns.items()},
        "topics": list(options.topics),
        "unknown_topics": options.unknown_topics.value,
        "consent_text": bool(options.consent_text),
        "chunk_size": options.chunk_size,
    }


async def _pipeline(
    run: _Run,
    rules: Rules,
    executor: Executor | None,
    started: float,
    progress: Callable[[ImportProgress], None] | None,
) -> None:
    """Read and normalise the next chunk while the current one merges."""
    loop = asyncio.get_running_loop()
    chunks = _chunks(run.source.records(), run.options.chunk_size)

    async def normalise(chunk: list[Record]) -> tuple[list[Row], list[Reject]]:
        values = [(r.line, r.values) for r in chunk if r.problem is None]
        if not isinstance(executor, ProcessPoolExecutor):
            # A thread of this process (while the merge waits for PostgreSQL): no pickling.
            return await loop.run_in_executor(executor, normalise_rows, rules, values)
        # In slices, so that every worker process of the executor takes a part of it.
        slices = [values[i : i + SLICE] for i in range(0, len(values), SLICE)]
        done = await asyncio.gather(
            *(loop.run_in_executor(executor, normalise_rows_plain, rules, part) for part in slices)
        )
        make_row, make_reject = Row._make, Reject._make
        return (
            [make_row(r) for rows, _ in done for r in rows],
            [make_reject(r) for _, refused in done for r in refused],
        )

    def submit(chunk: list[Record]) -> asyncio.Future[tuple[list[Row], list[Reject]]]:
        return asyncio.ensure_future(normalise(chunk))

    # Two chunks ahead: the workers check the next one and a thread reads the one after it
    # (the csv module mostly holds the GIL, but this thread mostly waits for PostgreSQL)
    # while the current one merges; memory stays at three chunks whatever the file.
    queue: deque[tuple[list[Record], asyncio.Future[tuple[list[Row], list[Reject]]]]] = deque()
    reader = ThreadPoolExecutor(1, thread_name_prefix="import-read")
    reading: asyncio.Future[list[Record] | None] | None = None
    for _ in range(2):
        ahead = next(chunks, None)
        if ahead is not None:
            queue.append((ahead, submit(ahead)))
    try:
        while queue:
            chunk, future = queue.popleft()
            if len(queue) == 1:
                reading = loop.run_in_executor(reader, next, chunks, None)
            rows, refused = await future
            await run.apply(chunk, rows, refused)
            if reading is not None:
                following, reading = await reading, None
                if following is not None:
                    queue.append((following, submit(following)))
            if progress is not None:
                elapsed = time.monotonic() - started
                run.summary.seconds = elapsed
                progress(ImportProgress(
                    run.summary.rows, run.source.bytes_read, run.source.bytes_total, elapsed,
                    run.summary,
                ))  # fmt: skip
    finally:
        for _, future in queue:
            future.cancel()
        if reading is not None:
            reading.cancel()
        reader.shutdown(wait=True)  # the file is not closed under the reading thread
