"""Where the files that ship beside the package live (overridable for container images)."""

from __future__ import annotations

import os
from pathlib import Path

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def migrations_dir() -> Path:
    return Path(os.environ.get("MAILER_MIGRATIONS_DIR") or _PROJECT_ROOT / "migrations")


def templates_dir() -> Path:
    return Path(os.environ.get("MAILER_TEMPLATES_DIR") or _PROJECT_ROOT / "templates")


def static_dir() -> Path:
    return Path(__file__).resolve().parent / "static"
