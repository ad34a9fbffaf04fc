"""Each setting is declared once (mailer/settings_fields.py); the docs' table must list exactly
the declared variables with their defaults. Regenerate it with `python -m mailer.config`."""

import re
from dataclasses import asdict
from pathlib import Path

import pytest

from mailer.config import load_settings, render_reference_markdown, settings_reference
from mailer.errors import ConfigError
from mailer.settings_fields import READ_ELSEWHERE

ROOT = Path(__file__).parents[2]
NAME = re.compile(r"\bMAILER_[A-Z0-9_]*[A-Z0-9]\b")


def configuration_doc() -> Path:
    moved = ROOT / "docs" / "operators" / "configuration.md"
    return moved if moved.exists() else ROOT / "README.md"


def table_defaults(markdown: str) -> dict[str, str]:
    """{variable: default} from the rows `| `MAILER_...` | default | meaning |`; a row naming
    several variables gives each its part of a `a, b` default, or the whole default."""
    found: dict[str, str] = {}
    for line in markdown.splitlines():
        if not line.startswith("| `MAILER_"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        names = re.findall(r"`(MAILER_[A-Z0-9_]+)`", cells[0])
        default = cells[1].replace("`", "")
        parts = default.split(", ")
        for i, name in enumerate(names):
            assert name not in found, f"{name} is listed twice"
            found[name] = parts[i] if len(names) > 1 and len(parts) == len(names) else default
    return found


def test_every_setting_is_declared_once_with_one_line_of_help() -> None:
    names = [doc.env for doc in settings_reference()]
    assert len(names) == len(set(names)) > 50
    for doc in settings_reference():
        assert doc.help.strip(), doc.env
        assert "\n" not in doc.help, doc.env
        assert "|" not in doc.help + doc.default_markdown, doc.env  # a table cell each
        assert doc.default, doc.env


def test_every_variable_the_code_names_is_declared_or_read_elsewhere() -> None:
    declared = {doc.env for doc in settings_reference()}
    named: dict[str, str] = {}
    for path in sorted((ROOT / "mailer").rglob("*.py")):
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            named.setdefault(name, str(path.relative_to(ROOT)))
    undeclared = {n: where for n, where in named.items() if n not in declared | READ_ELSEWHERE}
    assert undeclared == {}
    assert declared <= set(named)


@pytest.mark.parametrize("name", [doc.env for doc in settings_reference()])
def test_every_declared_variable_is_read(name: str) -> None:
    """Set to junk, each one is either refused or changes the settings it gives."""
    try:
        changed = load_settings({name: "\x01junk"}, dotenv=False)
    except ConfigError as refused:
        problems = refused.problems
    else:
        assert changed.ignored == ()
        assert asdict(changed) != asdict(load_settings({}, dotenv=False))
        return
    assert any(name in problem or "subject prefix" in problem for problem in problems)


def test_the_rendered_table_lists_every_setting_with_its_default() -> None:
    reference = {doc.env: doc.default for doc in settings_reference()}
    assert table_defaults(render_reference_markdown()) == reference


def test_the_docs_table_lists_exactly_the_declared_settings_and_defaults() -> None:
    doc = configuration_doc()
    documented = table_defaults(doc.read_text(encoding="utf-8"))
    declared = {d.env: d.default for d in settings_reference()}
    hint = f"regenerate the table in {doc.relative_to(ROOT)} with `python -m mailer.config`"
    assert sorted(documented) == sorted(declared), hint
    wrong = {n: (documented[n], d) for n, d in declared.items() if documented[n] != d}
    assert wrong == {}, f"(documented, declared) defaults differ; {hint}"
