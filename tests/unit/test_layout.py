"""The house's rules that no linter checks: each domain reads only its own SQL files, each
subpackage says its job in one line, and no module grows past what one person can hold."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "mailer"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 430  # "split at ~400" (STYLE.md); config.py is declarations and waits for its own split
TOO_BIG_FOR_NOW = {"config.py"}


def _queries_read(path: Path) -> list[str]:
    """The concerns a module passes to load_queries(...), as written."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "load_queries"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append(str(node.args[0].value))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_reads_only_its_own_domains_sql(path: Path) -> None:
    domain = path.parent.relative_to(PACKAGE).as_posix()
    for concern in _queries_read(path):
        owner = Path(concern).parent.as_posix()
        assert owner == domain, f"{path.name} reads {concern}.sql, which belongs to {owner}/"
        assert (PACKAGE / f"{concern}.sql").is_file()


def test_every_sql_file_is_read_by_a_module_beside_it() -> None:
    read = {c for path in MODULES for c in _queries_read(path)}
    for sql in PACKAGE.rglob("*.sql"):
        concern = sql.relative_to(PACKAGE).with_suffix("").as_posix()
        assert concern in read, f"nothing loads {concern}.sql"


def test_each_subpackage_says_its_job_in_its_docstring() -> None:
    packages = [p.parent for p in PACKAGE.glob("*/__init__.py")]
    assert len(packages) >= 10
    for package in packages:
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert doc, f"{package.name}/__init__.py has no docstring"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_grows_past_what_one_person_holds(path: Path) -> None:
    if path.name in TOO_BIG_FOR_NOW and path.parent == PACKAGE:
        return
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines: split it"
