"""Where the files that ship beside the package live (overridable for container images).

In a checkout (and an editable install) they are the repository's top-level migrations/ and
templates/; a built package (`pip install .`) carries copies in mailer/_bundled/ (setup.py)."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_PROJECT_ROOT = _PACKAGE_DIR.parent
_BUNDLED = _PACKAGE_DIR / "_bundled"


def _shipped(name: str) -> Path:
    bundled = _BUNDLED / name
    return bundled if bundled.is_dir() else _PROJECT_ROOT / name


def migrations_dir() -> Path:
    return Path(os.environ.get("MAILER_MIGRATIONS_DIR") or _shipped("migrations"))


def templates_dir() -> Path:
    return Path(os.environ.get("MAILER_TEMPLATES_DIR") or _shipped("templates"))


def static_dir() -> Path:
    return _PACKAGE_DIR / "static"
