"""The OpenAPI document checked against the live API by schemathesis: generated requests,
with and without an API key, get no server error and answers that match the document."""

import asyncio
import sys
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from mailer.accounts.api_keys import create_api_key
from mailer.config import load_settings
from mailer.web.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

# Polling a feed fetches its address from the network: left out (everything else runs).
EXCLUDED = ["--exclude-path-regex", r"/feeds/\{source_id\}/poll$"]


async def run_schemathesis(
    base: str, tmp_path: Path, *headers: str, max_seconds: int = 25
) -> tuple[int, str]:
    args = [
        "-m", "schemathesis.cli", "run", f"{base}/api/v1/openapi.json",
        "--url", f"{base}/api/v1",
        "--checks", "not_a_server_error,response_schema_conformance,"
                    "status_code_conformance,content_type_conformance",
        "--max-examples", "5", "--seed", "19", "--generation-deterministic",
        "--phases", "examples,coverage,fuzzing", "--max-time", str(max_seconds),
        "--request-timeout", "10", "--workers", "1", "--no-color",
        "--report-dir", str(tmp_path / "reports"),
        *EXCLUDED,
    ]  # fmt: skip
    for header in headers:
        args += ["-H", header]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=100)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.mark.parametrize("role", [None, "admin"])
async def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    pool: asyncpg.Pool, tmp_path: Path, role: str | None
) -> None:
    app = create_app(load_settings({}, dotenv=False), pool)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    headers = []
    if role is not None:
        async with pool.acquire() as conn:
            _, key = await create_api_key(conn, "schemathesis", role)
        headers.append(f"Authorization: Bearer {key}")
    try:
        # Without a key every operation answers 401 early: a shorter run covers it.
        code, output = await run_schemathesis(
            f"http://127.0.0.1:{server.port}", tmp_path, *headers, max_seconds=25 if role else 10
        )
    finally:
        await server.close()
    (tmp_path.parent / f"schemathesis-{role}.txt").write_text(output)
    assert code == 0, output[-6000:]
    assert "No issues found" in output or "passed" in output, output[-3000:]
