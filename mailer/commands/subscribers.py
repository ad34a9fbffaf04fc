"""`mailer subscribers import|export`: the parser's part and the handlers."""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from mailer.commands.watch import format_bar, format_duration
from mailer.config import Settings
from mailer.errors import InvalidInput
from mailer.imports.export import ExportFormat, export_subscribers
from mailer.imports.importer import import_subscribers
from mailer.imports.jobs import FileRejects
from mailer.imports.read import FIELDS, ReadOptions, SourceFormat, open_import
from mailer.imports.types import ImportOptions, Mode, UnknownTopics
from mailer.runtime.database import open_database
from mailer.tokens import Signer

if TYPE_CHECKING:
    from mailer.imports.types import ImportProgress, ImportSummary


def add_parser(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subcommands.add_parser(
        "subscribers",
        help="import or export subscribers (CSV, JSON Lines)",
        description="Bring an existing list in, or take the subscribers out.",
    )
    sub = command.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = sub.add_parser(
        "import",
        help="import a CSV or JSON Lines file (Mailchimp, listmonk, a spreadsheet)",
        description="Import subscribers. Existing ones are updated, never duplicated; "
        "suppressed and erased addresses are never re-activated.",
    )
    imp.add_argument("file", type=Path)
    mode = imp.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--consented",
        action="store_true",
        help="the file is proof of prior opt-in: rows become active, no mail",
    )
    mode.add_argument(
        "--opt-in", action="store_true", help="each new address gets a confirmation request (paced)"
    )
    imp.add_argument("--source", help="where and how they opted in (required with --consented)")
    imp.add_argument("--consent-text", help="the wording they agreed to, for the consent ledger")
    imp.add_argument("--topics", default="", help="topic slugs or names added to every row (a,b)")
    unknown = imp.add_mutually_exclusive_group()
    unknown.add_argument(
        "--create-topics",
        action="store_true",
        help="create unknown topics (hidden until an editor publishes them)",
    )
    unknown.add_argument(
        "--ignore-unknown-topics",
        action="store_true",
        help="drop unknown topic names instead of rejecting the row",
    )
    imp.add_argument("--format", choices=["csv", "jsonl"], help="default: from the name")
    imp.add_argument("--delimiter", help="CSV delimiter, e.g. ';' or tab (default: detected)")
    imp.add_argument("--encoding", help="default UTF-8 (a BOM is honoured), e.g. cp1252")
    imp.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="FIELD=HEADER",
        help=f"which column holds a field ({', '.join(FIELDS)}); FIELD= ignores it (repeatable)",
    )
    imp.add_argument(
        "--dry-run", action="store_true", help="report what would happen, change nothing"
    )
    imp.add_argument(
        "--rejects", type=Path, help="where the rows not imported go (default: next to the file)"
    )
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")
    imp.add_argument(
        "--chunk-size", type=int, default=10_000, help="rows per transaction (default 10,000)"
    )
    imp.add_argument(
        "--confirm-rate",
        type=float,
        default=20.0,
        help="opt-in confirmation requests per second (default 20)",
    )
    imp.add_argument(
        "--jobs", type=int, help="worker processes checking rows (default 0: a thread instead)"
    )
    exp = sub.add_parser("export", help="export subscribers as CSV or JSON Lines")
    exp.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    exp.add_argument("--status", help="pending, active, unsubscribed or suppressed")
    exp.add_argument("--topic", help="only subscribers of this topic (slug)")
    exp.add_argument("--output", type=Path, help="a file (default: standard output)")
    command.set_defaults(handler=subscribers)


async def subscribers(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.action == "import":
            return await _import(settings, args)
        return await _export(settings, args)
    except InvalidInput as exc:  # the CLI prints one line: say which option and why
        details = "; ".join(f"{field}: {why}" for field, why in exc.fields.items())
        raise InvalidInput(f"{exc} ({details})" if details else str(exc)) from exc


def _columns(specs: list[str]) -> dict[str, str | None]:
    columns: dict[str, str | None] = {}
    for spec in specs:
        field, sep, header = spec.partition("=")
        if not sep or not field.strip():
            raise InvalidInput(f"--column takes FIELD=HEADER, not {spec!r}")
        columns[field.strip()] = header.strip() or None
    return columns


def _rejects_path(source: Path, fmt: SourceFormat) -> Path:
    suffix = ".csv" if fmt is SourceFormat.CSV else ".jsonl"
    return source.with_name(f"{source.stem}.rejects{suffix}")


def _executor(args: argparse.Namespace, stack: ExitStack) -> Executor | None:
    # None by default: with the fast address path a row is checked in a few µs, less than
    # pickling it to a worker process and its result back costs; a thread of this process
    # checks the next chunk while the current one merges.
    jobs = args.jobs or 0
    if jobs <= 0:
        return None  # the event loop's thread pool
    # spawn: a fork of a process running an event loop and a database pool is unsafe
    return stack.enter_context(ProcessPoolExecutor(jobs, mp_context=get_context("spawn")))


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    options = ImportOptions(
        mode=Mode.CONSENTED if args.consented else Mode.OPT_IN,
        source=args.source,
        consent_text=args.consent_text,
        topics=tuple(t.strip() for t in args.topics.split(",") if t.strip()),
        unknown_topics=UnknownTopics.CREATE
        if args.create_topics
        else UnknownTopics.IGNORE
        if args.ignore_unknown_topics
        else UnknownTopics.REJECT,
        dry_run=args.dry_run,
        chunk_size=args.chunk_size,
        confirm_rate=args.confirm_rate,
    )
    read = ReadOptions(
        format=SourceFormat(args.format) if args.format else None,
        delimiter=args.delimiter,
        encoding=args.encoding,
        columns=_columns(args.column),
    )
    # The import makes and drops a few objects per row, millions of them, keeping a few
    # chunks' worth alive: the collector's default (a pass every 700 allocations) would
    # spend a tenth of the import's time scanning them. What start-up made is never garbage.
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
    with ExitStack() as stack:
        stack.callback(gc.unfreeze)  # as it was, for a caller in the same process (tests)
        stack.callback(gc.set_threshold, *thresholds)
        source = stack.enter_context(open_import(args.file, read))
        rejects = FileRejects(
            args.rejects or _rejects_path(args.file, source.format),
            source.format,
            source.headers,
            source.delimiter,
        )
        executor = _executor(args, stack)
        bar = ProgressLine(sys.stderr)
        async with open_database(settings) as (pool, _):
            summary = await import_subscribers(
                pool,
                Signer(settings.signing_keys),
                settings,
                source,
                options,
                rejects=rejects,
                progress=bar.show,
                executor=executor,
            )
        bar.close()
    if args.json:
        print(json.dumps({**summary.as_json(), "rejects_file": _shown_rejects(rejects)}, indent=2))
    else:
        print(describe_summary(summary, _shown_rejects(rejects)))
    return 0


def _shown_rejects(rejects: object) -> str | None:
    count = getattr(rejects, "count", 0)
    return str(getattr(rejects, "path", "")) if count else None


def describe_summary(summary: ImportSummary, rejects_file: str | None) -> str:
    """The end-of-import report, for people."""

    data = summary.as_json()
    head = "Dry run (nothing was changed)" if summary.dry_run else f"Import {summary.import_id}"
    lines = [
        f"{head}: {summary.rows} rows in {format_duration(summary.seconds)} "
        f"({data['rows_per_second'] or 0}/s)",
        f"  created    {data['created']:>9}  {_detail(data['created_by_status'])}",
        f"  updated    {data['updated']:>9}  {_detail(data['updated_by_change'])}",
        f"  unchanged  {data['unchanged']:>9}",
        f"  skipped    {data['skipped']:>9}  {_detail(data['skipped_by_reason'])}",
    ]
    if summary.confirmations:
        verb = "would be queued" if summary.dry_run else "queued"
        lines.append(f"  confirmation requests {verb}: {summary.confirmations}")
    if summary.topics_created:
        verb = "would be created" if summary.dry_run else "created (hidden)"
        lines.append(f"  topics {verb}: {', '.join(summary.topics_created)}")
    if rejects_file:
        lines.append(f"  rows not imported, with the reason: {rejects_file}")
    return "\n".join(lines)


def _detail(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {n}" for key, n in counts.items())


class ProgressLine:
    """A progress bar on a terminal (redrawn in place), a line every 5 seconds otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.live = out.isatty()
        self.last = 0.0
        self.drawn = False

    def show(self, p: ImportProgress) -> None:
        now = time.monotonic()
        if not self.live and now - self.last < 5.0:
            return
        self.last = now
        s = p.summary
        line = (
            f"[{format_bar(p.fraction)}] {p.fraction * 100:5.1f}% {p.rows} rows "
            f"{p.rows_per_second:,.0f}/s ETA {format_duration(p.eta_seconds)} | "
            f"created {s.created.total()} updated {s.updated.total()} "
            f"unchanged {s.unchanged} skipped {s.skipped.total()}"
        )
        self.out.write("\r\x1b[2K" + line if self.live else line + "\n")
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.live and self.drawn:
            self.out.write("\n")
            self.out.flush()


def _open_output(path: Path) -> BinaryIO:
    try:
        return path.open("wb")
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise InvalidInput(f"cannot write {str(path)!r}", {"output": reason}) from exc


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        pieces = await export_subscribers(
            pool, ExportFormat(args.format), status=args.status, topic=args.topic
        )
        with ExitStack() as stack:
            out = (
                stack.enter_context(_open_output(args.output)) if args.output else sys.stdout.buffer
            )
            async for piece in pieces:
                out.write(piece)
            out.flush()
    return 0
