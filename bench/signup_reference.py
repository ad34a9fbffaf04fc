"""The ceiling beside bench/signup: a bare aiohttp + asyncpg app, one INSERT per POST.

No signature check, no parsing, no transaction block: read the body, insert it, answer 202
with a small JSON body (the same shape as mailer's). Runs on uvloop like mailer, with
asyncpg's default pool (10 connections, as mailer's) and no access log. Started by
bench/signup.py as its own process; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import asyncpg
import uvloop
from aiohttp import web

POOL_KEY = web.AppKey("pool", asyncpg.Pool)
TABLE = "bench_reference_signups"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} "
    "(id bigserial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)
INSERT = f"INSERT INTO {TABLE} (body) VALUES ($1)"


async def signup(request: web.Request) -> web.Response:
    body = await request.text()
    await request.app[POOL_KEY].execute(INSERT, body)
    return web.json_response({"status": "accepted"}, status=202)


async def serve(database_url: str, port: int) -> None:
    pool = await asyncpg.create_pool(database_url)
    assert pool is not None
    try:
        await pool.execute(CREATE)
        app = web.Application()
        app[POOL_KEY] = pool
        app.router.add_post("/webhooks/signup", signup)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.database_url, args.port))


if __name__ == "__main__":
    main()
