"""The README's first-run walk and its screenshots: the names the browser test takes, in the
order the README shows them, and the copy into docs/screenshots/ (`make screenshots`)."""

from __future__ import annotations

import os
import shutil
from io import BytesIO
from pathlib import Path

from PIL import Image
from playwright.async_api import Page, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
# Every run writes the walk's pictures here; `make screenshots` (MAILER_UPDATE_SCREENSHOTS=1)
# also copies them over the committed ones after a successful walk.
ARTIFACTS = ROOT / "artifacts" / "first-run"
COMMITTED = ROOT / "docs" / "screenshots"
UPDATE = os.environ.get("MAILER_UPDATE_SCREENSHOTS") == "1"
# A moderate window and only what it shows: small PNGs that read well in a README.
VIEWPORT = ViewportSize(width=1000, height=680)
MAX_BYTES = 100_000

# In the order of the walk and of the README's pictures.
SCREENSHOTS = (
    "01-start",
    "02-signup",
    "03-confirmation-mail",
    "04-confirmed",
    "05-console-digest",
    "06-sending-done",
    "07-digest-mail",
    "08-preferences-saved",
    "09-unsubscribed",
)


async def snap(page: Page, name: str) -> Path:
    """Save what the window shows as artifacts/first-run/NAME.png, in 256 colours (a third
    of the size of Chromium's true-colour PNG of a page of text, and it reads the same)."""
    assert name in SCREENSHOTS, f"{name} is not one of the README's pictures"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    shot = await page.screenshot(animations="disabled", caret="hide")
    with Image.open(BytesIO(shot)) as image:
        image.convert("RGB").quantize(colors=256).save(path, optimize=True)
    return path


def publish() -> list[Path]:
    """Copy this run's pictures over the committed ones (after the whole walk passed)."""
    COMMITTED.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in SCREENSHOTS:
        source = ARTIFACTS / f"{name}.png"
        assert source.stat().st_size <= MAX_BYTES, f"{source} is over {MAX_BYTES} bytes"
        copied.append(Path(shutil.copyfile(source, COMMITTED / source.name)))
    return copied
