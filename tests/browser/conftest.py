"""Browser fixtures: Debian's Chromium driven by Playwright, one browser per run, one page per test.

The browser is shared by the whole run, so it lives in the session's event loop: every browser
test module says `pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]`.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, async_playwright

from mailer.db import open_pool
from tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    NOT_LOOPBACK,
    RunningService,
    Screenshot,
    save_screenshots,
)
from tests.support.process import Service, free_port, mailer_env


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (Debian's chromium package)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000
        )
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh context (no cookies, no cache) at desktop size, with short timeouts."""
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(5_000)

    async def refuse(route: Route) -> None:
        await route.abort("blockedbyclient")

    await context.route(NOT_LOOPBACK, refuse)
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
def screenshot(page: Page) -> Screenshot:
    """`await screenshot("outbox-list")` saves the current page at both widths."""

    def take(name: str) -> Awaitable[list[Path]]:
        return save_screenshots(page, name)

    return take


@pytest.fixture
def service_env() -> dict[str, str]:
    """Extra MAILER_* settings for `service`; a test module may override this fixture."""
    return {}


@pytest.fixture
def service(tmp_path: Path, db_url: str, service_env: dict[str, str]) -> Iterator[RunningService]:
    """A real `mailer serve` (development: no MAILER_SMTP_URL, so the outbox sink runs)."""
    port = free_port()
    data_dir = tmp_path / "data"
    env = mailer_env(
        data_dir, MAILER_DATABASE_URL=db_url, MAILER_LISTEN=f"127.0.0.1:{port}", **service_env
    )
    process = Service.start(env, port)
    process.wait_ready()
    yield RunningService(base_url=process.base_url, data_dir=data_dir)
    returncode = process.stop(signal.SIGTERM)
    output = process.output()
    assert returncode == 0, output
    assert "Traceback" not in output, output


@pytest_asyncio.fixture(loop_scope="session")
async def db(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the service's database, in the browser tests' (session) event loop."""
    pool = await open_pool(db_url, max_size=2)
    yield pool
    await pool.close()
