"""Each MAILER_* setting declared once, on its dataclass field: variable name, default, bounds,
help. Reading, validating and documenting the settings all walk these declarations."""

from __future__ import annotations

import difflib
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from mailer.numbers import whole_number

T = TypeVar("T")
Getter = Callable[[str], "str | None"]
Parser = Callable[[str, "Setting", list[str]], Any]

_SETTING = "mailer.setting"  # field metadata keys
_PART_OF = "mailer.setting.part_of"
_GROUP = "mailer.setting.group"


class _Invalid:
    """What a parser returns for a value it could not use (the problem is already noted):
    the field keeps its default."""


INVALID: Any = _Invalid()


@dataclass(frozen=True)
class Setting:
    env: str
    default: Any  # what the variable means when unset, in its own unit
    help: str
    low: float | None = None  # bounds of a number, inclusive
    high: float | None = None
    scale: float = 1.0  # the field holds the value times this (hours read, seconds kept)
    shown: str | None = None  # the default in words (markdown) when it is not a plain value
    parse: Parser | None = None  # for values that are not bool, number, str, Path or an enum


@dataclass(frozen=True)
class SettingDoc:
    """One row of the configuration reference."""

    env: str
    default: str  # as text, without markup
    help: str  # one line, markdown
    default_markdown: str  # the default as the docs' table shows it


def setting(
    env: str,
    default: Any,
    *,
    help: str,
    low: float | None = None,
    high: float | None = None,
    scale: float = 1.0,
    shown: str | None = None,
    parse: Parser | None = None,
    secret: bool = False,
) -> Any:
    """A dataclass field read from the environment variable `env`."""
    declared = Setting(env, default, help, low, high, scale, shown, parse)
    if parse is None and isinstance(default, int | float) and not isinstance(default, bool):
        assert low is not None, f"{env}: a number needs bounds"
        assert high is not None, f"{env}: a number needs bounds"
    stored = default * scale if scale != 1.0 else default
    return field(default=stored, repr=not secret, metadata={_SETTING: declared})


def part_of(env: str, default: T) -> T:
    """A field the variable `env` fills together with the declared one before it (the port of
    a host:port); its parser returns one value per field."""
    result: T = field(default=default, metadata={_PART_OF: env})
    return result


def group(kind: Callable[[], T]) -> T:
    """A nested dataclass of settings, read with the enclosing one."""
    result: T = field(default_factory=kind, metadata={_GROUP: True})
    return result


def read(kind: Callable[..., T], get: Getter, problems: list[str]) -> T:
    """An instance of the settings dataclass `kind`: each variable that is set is parsed and
    checked (one line in `problems` per bad value), each one unset keeps its default."""
    values: dict[str, Any] = {}
    declared = fields(kind)  # type: ignore[arg-type]
    for f in declared:
        if f.metadata.get(_GROUP):
            values[f.name] = read(_factory(f), get, problems)
            continue
        s: Setting | None = f.metadata.get(_SETTING)
        if s is None:
            continue
        text = get(s.env)
        if text is None:
            continue
        value = (s.parse or _parser_of(s))(text, s, problems)
        if value is INVALID:
            continue
        parts = [f, *(g for g in declared if g.metadata.get(_PART_OF) == s.env)]
        if len(parts) > 1:
            values.update({g.name: v for g, v in zip(parts, value, strict=True)})
        else:
            values[f.name] = value * s.scale if s.scale != 1.0 else value
    return kind(**values)


def declared_settings(kind: type) -> Iterator[tuple[Setting, tuple[Any, ...]]]:
    """Every declaration in `kind` and its groups, in field order, with the field defaults of
    its parts (host and port: the port's default comes second)."""
    declared = fields(kind)
    for f in declared:
        if f.metadata.get(_GROUP):
            yield from declared_settings(type(_factory(f)()))
        elif (s := f.metadata.get(_SETTING)) is not None:
            parts = tuple(g.default for g in declared if g.metadata.get(_PART_OF) == s.env)
            yield s, parts


def document(kind: type) -> list[SettingDoc]:
    """The reference rows of `kind`'s settings."""
    rows = []
    for s, parts in declared_settings(kind):
        if s.shown is not None:
            markdown = s.shown
        else:
            value = ":".join(_as_text(v) for v in (s.default, *parts))
            markdown = f"`{value}`" if value else "none"
        rows.append(SettingDoc(s.env, markdown.replace("`", ""), s.help, markdown))
    return rows


def _factory(f: Field[Any]) -> Callable[[], Any]:
    assert f.default_factory is not MISSING
    return f.default_factory


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Enum):
        return str(value.value)
    if value is None or value == ():
        return ""
    return str(value)


def _parser_of(s: Setting) -> Parser:
    kind = type(s.default)
    if kind is bool:
        return parse_bool
    if kind in (int, float):
        return parse_number
    if issubclass(kind, Enum):
        return parse_enum
    if kind in (str, Path) or issubclass(kind, Path):
        return lambda text, s, problems: kind(text)
    raise TypeError(f"{s.env}: no parser for {kind.__name__}; declare parse=")


def parse_number(text: str, s: Setting, problems: list[str]) -> Any:
    try:
        value = type(s.default)(text)
    except ValueError:
        problems.append(f"{s.env} must be a number, not {text!r}")
        return INVALID
    assert s.low is not None
    assert s.high is not None
    if not s.low <= value <= s.high:
        problems.append(f"{s.env} must be between {s.low} and {s.high}")
        return INVALID
    return value


def parse_bool(text: str, s: Setting, problems: list[str]) -> bool:
    value = text.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    problems.append(f"{s.env} must be true or false, not {text!r}")
    return False


def parse_enum(text: str, s: Setting, problems: list[str]) -> Any:
    kind = type(s.default)
    try:
        return kind(text)
    except ValueError:
        names = [repr(member.value) for member in kind]
        choices = f"{', '.join(names[:-1])} or {names[-1]}"
        problems.append(f"{s.env} must be {choices}, not {text!r}")
        return INVALID


def parse_listen(text: str, s: Setting, problems: list[str]) -> Any:
    """host:port, as (host, port); a bare :port binds every address."""
    host, sep, port_text = text.rpartition(":")
    port = whole_number(port_text, max_digits=5)
    if not sep or port is None or not 0 < port < 65536:
        problems.append(f"{s.env} must be host:port, e.g. 127.0.0.1:8080, not {text!r}")
        return INVALID
    return host.strip("[]") or "0.0.0.0", port  # noqa: S104


# MAILER_* variables read elsewhere: where the packaged files are (container images); the
# test suite's and the benchmarks' own variables.
READ_ELSEWHERE = frozenset(
    {
        "MAILER_DOTENV",
        "MAILER_MIGRATIONS_DIR",
        "MAILER_TEMPLATES_DIR",
        "MAILER_TEST_DATABASE_URL",
        "MAILER_BENCH_DATABASE_URL",
        "MAILER_UPDATE_SCREENSHOTS",
    }
)


def unknown_variables(env: Mapping[str, str], declared: set[str]) -> tuple[str, ...]:
    """A sentence for each MAILER_* variable that no setting reads, with a likely meant one."""
    known = declared | READ_ELSEWHERE
    sentences = []
    for name in sorted(n for n in env if n.startswith("MAILER_") and n not in known):
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        sentences.append(f"{name} is not a mailer setting and is ignored{hint}")
    return tuple(sentences)


def read_dotenv(path: Path, problems: list[str], *, named: bool) -> dict[str, str]:
    """The file's settings. ./.env may be absent; a file MAILER_DOTENV names must exist
    (os.devnull names none), and a line that is not NAME=value is a problem, not a skip."""
    if not path.exists():
        if named:
            problems.append(f"MAILER_DOTENV names {path}, which does not exist")
        return {}
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"cannot read {path}: {exc}")
        return {}
    bad = [b.original.line for b in parse_stream(io.StringIO(text)) if b.error]
    if bad:
        lines = ", ".join(str(n) for n in bad)
        problems.append(f"{path}: line {lines} is not NAME=value")
        return {}
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
