"""Only what pyproject.toml cannot say: a built package carries the repository's top-level
migrations/ and templates/ inside it (as mailer/_bundled/), so that `pip install .` (not
editable) gives a `mailer serve` that finds them (mailer/resources.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLED = ("migrations", "templates")


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout
            return
        for name in BUNDLED:
            source = HERE / name
            if not source.is_dir():
                raise SystemExit(f"cannot build mailer: no {name}/ folder beside setup.py")
            target = Path(self.build_lib) / "mailer" / "_bundled" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildWithResources})
