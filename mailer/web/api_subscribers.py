"""The editor API for subscribers in bulk: import (upload, job, rejects), export, search."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDict, MultiMapping

from mailer.audience.search import Search, search_subscribers
from mailer.errors import InvalidInput
from mailer.imports.export import export_subscribers, parse_format
from mailer.imports.importer import describe, import_subscribers, preflight
from mailer.imports.jobs import (
    ImportRunner,
    RejectsLayout,
    TableRejects,
    create_import,
    get_import,
    iter_rejects,
)
from mailer.imports.read import ReadOptions, SourceFormat, open_import
from mailer.imports.types import ImportOptions, Mode, UnknownTopics, check_options
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import ApiProblem, _date_param, admin_key, api_key_name, dumps_json, path_id
from mailer.web.text_guard import NUL, refuse

log = logging.getLogger(__name__)

runner_key = web.AppKey("import_runner", ImportRunner)

# Uploads are kept on disk while they import; a 1,000,000-row Mailchimp export is ~200 MB.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
MAX_WAIT_SECONDS = 60.0
_JSONL_TYPES = {"application/x-ndjson", "application/jsonl", "application/x-jsonlines"}
_RAW_TYPES = {"text/csv", "text/plain", "text/tab-separated-values", "application/octet-stream"}


def setup(api: web.Application, parent: web.Application) -> None:
    """What these handlers need on the /api/v1 sub-application; imports still running at
    shutdown are cancelled (their chunk in progress rolls back)."""
    api[keys.signer_key] = parent[keys.signer_key]
    runner = ImportRunner()
    api[runner_key] = runner

    async def stop_imports(_: web.Application) -> None:
        await runner.stop()

    api.on_shutdown.append(stop_imports)


def _flag(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise InvalidInput(f"invalid {name}", {name: "true or false"})


def _number(value: str | None, name: str, default: float, low: float, high: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        raise InvalidInput(f"invalid {name}", {name: f"a number from {low:g} to {high:g}"})
    return number


Options = tuple[ImportOptions, ReadOptions, float]  # and how long to wait for the end


def read_options(params: MultiMapping[str], who: str) -> Options:
    """The import's options from form fields or the query (InvalidInput names the field);
    `who` is recorded as "editor (who)"."""
    return _options(params, who)


def _options(params: MultiMapping[str], key_name: str) -> Options:
    mode_text = (params.get("mode") or "").replace("-", "_").lower()
    if mode_text not in ("consented", "opt_in"):
        raise InvalidInput(
            "the import mode is required",
            {"mode": "consented (the file is proof of opt-in) or opt_in (ask each new address)"},
        )
    unknown = (params.get("unknown_topics") or "reject").lower()
    if unknown not in ("reject", "create", "ignore"):
        raise InvalidInput("invalid unknown_topics", {"unknown_topics": "reject, create or ignore"})
    columns: dict[str, str | None] = {}
    for spec in params.getall("column", []):
        field, sep, header = spec.partition("=")
        if not sep:
            raise InvalidInput("invalid column", {"column": "FIELD=HEADER, e.g. email=Mail"})
        columns[field.strip()] = header.strip() or None
    fmt = params.get("format")
    if fmt and fmt not in ("csv", "jsonl"):
        raise InvalidInput("invalid format", {"format": "csv or jsonl"})
    options = ImportOptions(
        mode=Mode(mode_text),
        source=params.get("source"),
        consent_text=params.get("consent_text") or None,
        topics=tuple(t.strip() for t in (params.get("topics") or "").split(",") if t.strip()),
        unknown_topics=UnknownTopics(unknown),
        dry_run=_flag(params.get("dry_run"), "dry_run"),
        confirm_rate=_number(params.get("confirm_rate"), "confirm_rate", 20.0, 0.01, 10_000),
        requested_by=f"editor ({key_name})",
    )
    check_options(options)
    read = ReadOptions(
        format=SourceFormat(fmt) if fmt else None,
        delimiter=params.get("delimiter") or None,
        encoding=params.get("encoding") or None,
        columns=columns,
    )
    wait = _number(params.get("wait"), "wait", 20.0, 0, MAX_WAIT_SECONDS)
    return options, read, wait


async def _save(chunks: Any, name: str) -> Path:
    """The upload in a temporary file (removed again if it is too large or breaks off)."""
    path = _temp_path(name)
    size = 0
    try:
        with path.open("wb") as target:
            while chunk := await chunks():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise ApiProblem(413, f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
                target.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def _receive(request: web.Request) -> tuple[Path, Options, str]:
    """The options (checked before any of the file is read: from the query, and from the
    form fields that precede the file in a multipart form), and the file saved to disk."""
    key_name = request[api_key_name]
    kind = request.content_type
    if kind == "multipart/form-data":
        try:
            return await _receive_form(request, key_name)
        except _MULTIPART_ERRORS as exc:
            raise _malformed(exc) from exc
    options = _options(request.query, key_name)
    if kind not in _RAW_TYPES | _JSONL_TYPES:
        raise ApiProblem(
            415, "send the file as text/csv, application/x-ndjson or multipart/form-data"
        )
    name = "upload.jsonl" if kind in _JSONL_TYPES else "upload.csv"
    return await _save(lambda: request.content.read(64 * 1024), name), options, name


# What aiohttp's multipart reader raises on a malformed part (a header line without a
# colon, an unknown transfer encoding or charset, a broken boundary, bytes that are not UTF-8).
_MULTIPART_ERRORS = (HttpProcessingError, ValueError, LookupError, RuntimeError)


async def _receive_form(request: web.Request, key_name: str) -> tuple[Path, Options, str]:
    fields: MultiDict[str] = MultiDict(request.query)
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.filename is None and part.name != "file":
            name, value = part.name or "", (await part.read(decode=True))[:10_000].decode()
            if NUL in name or NUL in value:
                raise refuse(name.replace(NUL, "") or "file")
            fields.add(name, value)
            continue
        options = _options(fields, key_name)
        name = part.filename or "upload"
        return await _save(lambda p=part: p.read_chunk(64 * 1024), name), options, name
    raise InvalidInput("no file in the form", {"file": "send the file in a part named 'file'"})


def _malformed(exc: Exception) -> InvalidInput:
    reason = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
    return InvalidInput(
        "the multipart form cannot be read", {"file": f"a malformed part of the form: {reason}"}
    )


def temp_path(name: str) -> Path:
    return _temp_path(name)


def _temp_path(name: str) -> Path:
    suffix = Path(name).suffix.lower()
    known = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json")
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 -- kept until the import ends
        prefix="mailer-import-", suffix=suffix if suffix in known else "", delete=False
    )
    handle.close()
    return Path(handle.name)


@admin_key
async def import_handler(request: web.Request) -> web.Response:
    """POST /subscribers/import: the file is streamed to disk, checked (format, header),
    then imported in the background; the answer waits up to `wait` seconds for the end
    (200 with the summary), else says where to follow it (202, Location)."""
    path, (options, read, wait), name = await _receive(request)
    job, done = await start_import(request.app, path, name, options, read, wait)
    response = web.json_response(job, status=200 if done else 202, dumps=dumps_json)
    response.headers["Location"] = f"/api/v1/subscribers/imports/{job['import_id']}"
    return response


async def start_import(
    app: web.Application,
    path: Path,
    name: str,
    options: ImportOptions,
    read: ReadOptions,
    wait: float,
) -> tuple[dict[str, Any], bool]:
    """Check the saved upload and import it in the background (the file is removed at the
    end); wait up to `wait` seconds for it. (The job as it stands, whether it is over.)
    Shared by the API and the console; `app` carries the pool, signer, settings and runner."""
    try:
        await preflight(app[keys.pool_key], options)
        source = open_import(path, read)
    except BaseException:
        path.unlink(missing_ok=True)  # noqa: ASYNC240 -- one local unlink, as before
        raise
    pool = app[keys.pool_key]
    async with pool.acquire() as conn:
        import_id = await create_import(
            conn,
            mode=options.mode.value,
            dry_run=options.dry_run,
            source=options.source,
            file_name=name,
            file_bytes=source.bytes_total,
            options=describe(options, source),
            requested_by=options.requested_by,
            columns=source.headers or None,
        )

    async def work() -> None:
        try:
            await import_subscribers(
                pool,
                app[keys.signer_key],
                app[keys.settings_key],
                source,
                options,
                rejects=TableRejects(import_id),
                import_id=import_id,
            )
        except Exception:
            log.exception("import %d failed", import_id)
        finally:
            source.close()
            path.unlink(missing_ok=True)  # noqa: ASYNC240 -- one local unlink, as before

    task = app[runner_key].start(import_id, work())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), wait)
    return await get_import(pool, import_id), task.done()


@admin_key
async def import_status(request: web.Request) -> web.Response:
    job = await get_import(request.app[keys.pool_key], path_id(request, "import_id"))
    return web.json_response(job, dumps=dumps_json)


@admin_key
async def import_rejects(request: web.Request) -> web.StreamResponse:
    """The rows an import did not apply, as a file like the input plus `reason` and `line`."""
    import_id = path_id(request, "import_id")
    headers, fmt, rows = await iter_rejects(request.app[keys.pool_key], import_id)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8" if fmt is SourceFormat.CSV
            else "application/x-ndjson",
            "Content-Disposition": f'attachment; filename="import-{import_id}-rejects.'
            f'{"csv" if fmt is SourceFormat.CSV else "jsonl"}"',
        }
    )  # fmt: skip
    await response.prepare(request)
    layout = RejectsLayout(fmt, headers or [], ",")  # as the CLI's rejects file
    batch: list[tuple[int, list[str], str, str]] = []
    async for row in rows:
        batch.append((row["line"], list(row["cells"]), row["reason_key"], row["reason"]))
        if len(batch) >= 1000:
            await response.write(layout.render(batch).encode())
            batch = []
    await response.write(layout.render(batch).encode())
    await response.write_eof()
    return response


@admin_key
async def export_handler(request: web.Request) -> web.StreamResponse:
    """GET /subscribers/export: CSV or JSON Lines, streamed from a server-side cursor."""
    fmt = parse_format(request.query.get("format"))
    pieces = await export_subscribers(
        request.app[keys.pool_key],
        fmt,
        status=request.query.get("status") or None,
        topic=request.query.get("topic") or None,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{fmt.content_type}; charset=utf-8",
            "Content-Disposition": f'attachment; filename="subscribers-{stamp}.{fmt.value}"',
            "Cache-Control": "no-store",
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for piece in pieces:
        await response.write(piece)
    await response.write_eof()
    return response


async def search_handler(request: web.Request) -> web.Response:
    """GET /subscribers?q=&status=&topic=&since=&until=&limit=&cursor="""
    query = request.query
    limit_text = query.get("limit") or "50"
    if whole_number(limit_text, max_digits=6) is None:
        raise InvalidInput("invalid limit", {"limit": "a positive integer up to 500"})
    search = Search(
        q=query.get("q") or None,
        status=query.get("status") or None,
        topic=query.get("topic") or None,
        since=_date_param(request, "since"),
        until=_date_param(request, "until"),
        limit=int(limit_text),
    )
    found, following = await search_subscribers(
        request.app[keys.pool_key], request.app[keys.signer_key], search, query.get("cursor")
    )
    return web.json_response({"subscribers": found, "next_cursor": following}, dumps=dumps_json)
