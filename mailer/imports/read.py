"""Reading an import file: encoding, CSV dialect or JSON Lines, and which column is which.

The reader streams: it never holds more than the record it yields. Columns are found by
name, with the spellings of Mailchimp's and listmonk's exports known by default, and can
be named explicitly (`--column FIELD=HEADER`).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from mailer.errors import InvalidInput

# What an import understands of a row, in the order the values travel in.
FIELDS: tuple[str, ...] = (
    "email",
    "name",
    "first_name",
    "last_name",
    "status",
    "topics",
    "consent_at",
    "optin_at",
    "created_at",
    "unsubscribed_at",
    "cleaned_at",
    "ip",
    "optin_ip",
    "locale",
    "source",
)
FIELD = {name: position for position, name in enumerate(FIELDS)}

# Header spellings per field, most specific first (compared after header_key()). Mailchimp:
# "Email Address", "First Name", "Last Name", OPTIN_TIME, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP,
# TAGS, and UNSUB_TIME / CLEAN_TIME in its unsubscribed and cleaned exports. listmonk: email,
# name, status (enabled, disabled, blocklisted), created_at. mailer's own export: email,
# name, status, topics, locale, source, created_at, confirmed_at, unsubscribed_at.
ALIASES: Mapping[str, tuple[str, ...]] = {
    "email": ("email", "email address", "e-mail", "e-mail address", "mail", "subscriber email"),
    "name": ("name", "full name", "subscriber name", "display name"),
    "first_name": ("first name", "fname", "firstname", "given name"),
    "last_name": ("last name", "lname", "lastname", "surname", "family name"),
    "status": ("status", "subscription status", "subscriber status", "member status"),
    "topics": ("topics", "topic", "lists", "list", "tags", "groups", "interests"),
    "consent_at": (
        "confirmed at",
        "confirm time",
        "confirmation time",
        "consent time",
        "consent at",
        "consented at",
        "subscribed at",
    ),
    "optin_at": ("optin time", "opt in time", "signup time", "signed up at", "signup date"),
    "created_at": ("created at", "created", "date added", "added at"),
    "unsubscribed_at": ("unsubscribed at", "unsub time", "unsubscribe time", "opt out time"),
    "cleaned_at": ("clean time", "cleaned at", "bounced at"),
    "ip": ("confirm ip", "consent ip", "ip", "ip address"),
    "optin_ip": ("optin ip", "opt in ip", "signup ip"),
    "locale": ("locale", "language", "lang"),
    "source": ("source", "signup source", "consent source"),
}

DELIMITERS = ",;\t|"
SAMPLE_CHARS = 64 * 1024


def header_key(text: str) -> str:
    """'Email Address', 'EMAIL_ADDRESS' and 'email-address' are one header."""
    return " ".join(re.sub(r"[_\-\s]+", " ", text.strip().lstrip("\ufeff")).casefold().split())


_ALIAS_FIELD = {header_key(alias): field for field, names in ALIASES.items() for alias in names}
_ALIAS_RANK = {
    header_key(alias): rank for names in ALIASES.values() for rank, alias in enumerate(names)
}


class SourceFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


@dataclass(frozen=True)
class ReadOptions:
    format: SourceFormat | None = None  # None: from the file name, else from its content
    delimiter: str | None = None  # None: detected
    encoding: str | None = None  # None: UTF-8 (a BOM, UTF-8 or UTF-16, is honoured)
    columns: Mapping[str, str | None] | None = None  # field -> header, or None to ignore it


class Record(NamedTuple):
    """One row: its first line in the file, its cells as read (for the rejects file), the
    values of FIELDS (str, a list of str for topics from JSON, or None), and a problem
    that makes it unusable whatever its values (key, message). A tuple: a million of them
    are made per million rows, and a frozen dataclass costs three times as much to make."""

    line: int
    cells: list[str]
    values: tuple[Any, ...]
    problem: tuple[str, str] | None = None


def map_columns(headers: list[str], overrides: Mapping[str, str | None] | None) -> dict[str, int]:
    """Field -> column position; InvalidInput when there is no address column or an
    override names a field or header that does not exist."""
    keys = [header_key(h) for h in headers]
    found: dict[str, int] = {}
    for position, key in enumerate(keys):
        field = _ALIAS_FIELD.get(key)
        if field is None:
            continue
        current = found.get(field)
        if current is None or _ALIAS_RANK[key] < _ALIAS_RANK[keys[current]]:
            found[field] = position
    for field, header in (overrides or {}).items():
        if field not in FIELD:
            raise InvalidInput(
                f"unknown field {field!r} in a column mapping",
                {"columns": f"fields are {', '.join(FIELDS)}"},
            )
        if header is None or not header.strip():
            found.pop(field, None)
            continue
        if header_key(header) not in keys:
            raise InvalidInput(
                f"no column {header!r} in the file",
                {"columns": f"the header has: {_shown(headers)}"},
            )
        found[field] = keys.index(header_key(header))
    if "email" not in found:
        raise InvalidInput(
            "the file has no address column",
            {
                "columns": f"the header has: {_shown(headers)}; name the address column "
                "'email' (or 'Email Address'), or map it with --column email=HEADER"
            },
        )
    return found


def _shown(headers: list[str]) -> str:
    names = ", ".join(repr(h[:40]) for h in headers[:20])
    return names + (", ..." if len(headers) > 20 else "") if headers else "nothing"


def detect_format(path: Path, sample: str) -> SourceFormat:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return SourceFormat.JSONL
    if suffix in (".csv", ".tsv", ".txt"):
        return SourceFormat.CSV
    return SourceFormat.JSONL if sample.lstrip().startswith("{") else SourceFormat.CSV


def detect_delimiter(sample: str) -> str:
    """The delimiter whose header has an address column: csv.Sniffer's guess first, then
    each usual one (the sniffer alone is fooled by commas inside quoted names)."""
    candidates = list(DELIMITERS)
    try:
        guess = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        candidates.remove(guess)
        candidates.insert(0, guess)
    except csv.Error:
        pass
    best, widest = candidates[0], 0
    for delimiter in candidates:
        header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])
        has_email = any(_ALIAS_FIELD.get(header_key(h)) == "email" for h in header)
        if has_email and len(header) > widest:
            best, widest = delimiter, len(header)
    return best


def parse_delimiter(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(text.lower(), text)
    if len(value) != 1 or value in '"\r\n':
        raise InvalidInput("invalid delimiter", {"delimiter": "one character, e.g. ';', or 'tab'"})
    return value


def _encoding(head: bytes, asked: str | None) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode text": tab-separated UTF-16 with a BOM
    if asked is None:
        return "utf-8"
    try:
        codecs.lookup(asked)
    except LookupError as exc:
        raise InvalidInput("unknown encoding", {"encoding": f"no encoding {asked!r}"}) from exc
    return asked


class ImportFile:
    """An import file opened for one pass: format, delimiter and columns are settled when
    it opens (InvalidInput if they cannot be), then records() streams the rows."""

    def __init__(self, path: Path, options: ReadOptions | None = None) -> None:
        options = options or ReadOptions()
        self.path = path
        self._raw = path.open("rb")
        try:
            self.bytes_total = path.stat().st_size
            self.encoding = _encoding(self._raw.read(4), options.encoding)
            self._raw.seek(0)
            self._text = io.TextIOWrapper(self._raw, encoding=self.encoding, newline="")
            sample = self._guarded(lambda: self._text.read(SAMPLE_CHARS), 1)
            self._text.seek(0)
            if not sample.strip():
                raise InvalidInput("the file is empty", {"file": "no header and no rows"})
            self.format = options.format or detect_format(path, sample)
            self.headers: list[str] = []
            self.columns: dict[str, int] = {}
            self.delimiter = ""
            if self.format is SourceFormat.CSV:
                self.delimiter = (
                    parse_delimiter(options.delimiter)
                    if options.delimiter
                    else detect_delimiter(sample)
                )
                self._reader = csv.reader(self._text, delimiter=self.delimiter, strict=False)
                self.headers = [h.strip().lstrip("\ufeff") for h in self._header()]
                self.columns = map_columns(self.headers, options.columns)
            else:
                self._overrides = {
                    field: header_key(h) if h else None
                    for field, h in (options.columns or {}).items()
                }
                for field in self._overrides:
                    if field not in FIELD:
                        raise InvalidInput(
                            f"unknown field {field!r} in a column mapping",
                            {"columns": f"fields are {', '.join(FIELDS)}"},
                        )
        except BaseException:
            self._raw.close()
            raise

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> ImportFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def bytes_read(self) -> int:
        """How far into the file reading is (read-ahead included): for progress only."""
        return min(self._raw.tell(), self.bytes_total) if not self._raw.closed else 0

    def _guarded(self, read: Any, line: int) -> Any:
        try:
            return read()
        except (UnicodeDecodeError, csv.Error) as exc:
            raise self._unreadable(exc, line) from exc

    def _unreadable(self, exc: Exception, line: int) -> InvalidInput:
        if isinstance(exc, UnicodeDecodeError):
            return InvalidInput(
                f"the file is not valid {self.encoding} near line {line}",
                {"encoding": "save it as UTF-8, or name its encoding, e.g. cp1252"},
            )
        return InvalidInput(
            f"line {line} cannot be read: {exc}",
            {"file": "a quote that is never closed, or a stray NUL byte?"},
        )

    def _header(self) -> list[str]:
        reader = iter(self._reader)
        while (row := self._guarded(lambda: next(reader, None), 1)) is not None:
            if any(cell.strip() for cell in row):
                self._last_line = self._reader.line_num
                return list(row)
        raise InvalidInput("the file is empty", {"file": "no header and no rows"})

    def records(self) -> Iterator[Record]:
        if self.format is SourceFormat.CSV:
            yield from self._csv_records()
        else:
            yield from self._jsonl_records()

    def _csv_records(self) -> Iterator[Record]:
        width = len(self.headers)
        positions = [self.columns.get(field, -1) for field in FIELDS]
        # The usual row has the header's width: its values in one call (None at `width`).
        pick = itemgetter(*(width if p < 0 else p for p in positions))
        missing = [None]
        make = Record._make  # tuple.__new__ itself: a NamedTuple's own __new__ is Python code
        reader = self._reader
        last = self._last_line
        while True:
            first = last + 1
            try:  # not _guarded(): a call less per row
                row = next(reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, csv.Error) as exc:
                raise self._unreadable(exc, first) from exc
            last = reader.line_num
            if not row or not (row[0].strip() or any(cell.strip() for cell in row)):
                continue
            problem = None
            if len(row) > width and any(cell.strip() for cell in row[width:]):
                problem = (
                    "too_many_cells",
                    f"{len(row)} cells but the header has {width} (a stray delimiter or quote?)",
                )
            # A missing column is None (not given); a cell missing from a short row is "".
            count = len(row)
            if count == width:
                values = pick(row + missing)
            else:
                values = tuple(None if p < 0 else row[p] if p < count else "" for p in positions)
            yield make((first, row, values, problem))

    def _jsonl_records(self) -> Iterator[Record]:
        line = 0
        for text in self._guarded(lambda: self._text, 1):
            line += 1
            if not text.strip():
                continue
            cells = [text.rstrip("\r\n")]
            try:
                data = json.loads(text)
            except ValueError as exc:
                yield Record(line, cells, (), ("invalid_json", f"not valid JSON: {exc}"))
                continue
            if not isinstance(data, dict):
                yield Record(line, cells, (), ("invalid_json", "each line must be a JSON object"))
                continue
            yield Record(line, cells, self._json_values(data))

    def _json_values(self, data: dict[str, Any]) -> tuple[Any, ...]:
        by_key = {header_key(str(k)): v for k, v in data.items()}
        values: list[Any] = []
        for field in FIELDS:
            if field in self._overrides:
                key = self._overrides[field]
                value = by_key.get(key) if key else None
            else:
                value = next(
                    (by_key[header_key(a)] for a in ALIASES[field] if header_key(a) in by_key),
                    None,
                )
            if isinstance(value, list) and field == "topics":
                values.append([str(v) for v in value if v is not None])
            elif value is None or isinstance(value, dict | list):
                values.append(None)
            else:
                values.append(str(value))
        return tuple(values)


def open_import(path: Path, options: ReadOptions | None = None) -> ImportFile:
    if not path.is_file():
        raise InvalidInput(f"no file {str(path)!r}", {"file": "not found"})
    return ImportFile(path, options)
