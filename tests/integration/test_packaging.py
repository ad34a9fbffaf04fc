"""`pip install .` (not editable) gives a package that carries its migrations and templates:
the wheel lists them, and `mailer migrate` and `mailer serve` run from the installed copy,
away from the checkout."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.pg import PgServer
from tests.support.process import free_port, http_get, mailer_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
FOLDERS = ("mailer", "migrations", "templates")


def _build_wheel(tmp_path: Path) -> Path:
    """A wheel built from a copy of the checkout (the build leaves build/ behind)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        shutil.copy2(ROOT / name, source / name)
    for name in FOLDERS:
        shutil.copytree(
            ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "_bundled")
        )
    out = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = out.glob("mailer-*.whl")
    return wheel


async def test_an_installed_package_migrates_and_serves_from_its_own_files(
    tmp_path: Path, pg_server: PgServer
) -> None:
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("migrations", "templates"):
        shipped = {
            f"mailer/_bundled/{p.relative_to(ROOT).as_posix()}"
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert shipped, folder
        assert shipped <= names, sorted(shipped - names)

    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    run_dir = tmp_path / "run"  # not the checkout: `python -m` puts the current directory first
    run_dir.mkdir()
    env = mailer_env(tmp_path / "data", MAILER_DATABASE_URL=await pg_server.empty())
    env["PYTHONPATH"] = str(site)
    env.pop("MAILER_MIGRATIONS_DIR", None)
    env.pop("MAILER_TEMPLATES_DIR", None)

    def mailer(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailer", *args],
            cwd=run_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import mailer.resources as r; print(r.migrations_dir())"],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(site / "mailer" / "_bundled" / "migrations")
    migrated = mailer("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "0001_events" in migrated.stdout + migrated.stderr

    port = free_port()
    env["MAILER_LISTEN"] = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", "serve", "--role", "web"],
        cwd=run_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status, page = 0, ""
        for _ in range(300):
            if process.poll() is not None:
                break
            try:
                status, page = http_get(f"http://127.0.0.1:{port}/subscribe", timeout=1)
                break
            except OSError:
                await asyncio.sleep(0.1)
        assert status == 200, (status, page)
        assert "<form" in page  # rendered from the installed templates
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
