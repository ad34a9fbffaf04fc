"""Shared by browser tests besides fixtures: Chromium settings, screenshots, the service."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Page, ViewportSize

# Debian's package, installed by `make browser-deps`; Playwright never downloads a browser here.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # we run as root in a container: Chromium's own sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No traffic but to the service under test on 127.0.0.1.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)
TABLET = ViewportSize(width=820, height=1180)
SIZES = {"phone": PHONE, "tablet": TABLET, "desktop": DESKTOP}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# Anything that is not the loopback service is refused, so a page can never reach out.
NOT_LOOPBACK = re.compile(r"^(?!https?://127\.0\.0\.1[:/]).*")

Screenshot = Callable[[str], Awaitable[list[Path]]]


@dataclass(frozen=True)
class RunningService:
    """A `mailer serve` process the test talks to over loopback."""

    base_url: str
    data_dir: Path


async def save_screenshots(
    page: Page, name: str, sizes: tuple[str, ...] = ("phone", "desktop")
) -> list[Path]:
    """Save the whole page at these widths as artifacts/screenshots/NAME-<size>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    paths = []
    for label in sizes:
        size = SIZES[label]
        await page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{label}.png"
        await page.screenshot(path=path, full_page=True, animations="disabled")
        paths.append(path)
    if original is not None:
        await page.set_viewport_size(original)
    return paths
