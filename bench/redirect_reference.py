"""The ceiling beside bench/redirect: a bare aiohttp handler answering 302 to a fixed URL.

No token, no counting, no middleware but a timer (the same clock mailer's request histogram
uses: arrival at the handler chain to the response); uvloop like mailer, no access log.
`GET /stats` gives the timer's figures. Started by bench/redirect.py; stops on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time

import uvloop
from aiohttp import web
from aiohttp.typedefs import Handler

TARGET = "https://news.example.org/story"
TIMES = web.AppKey("times", list)


@web.middleware
async def timer(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        return await handler(request)
    finally:
        request.app[TIMES].append(time.perf_counter() - started)


async def follow(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": TARGET})


async def stats(request: web.Request) -> web.Response:
    times = request.app[TIMES]
    request.app[TIMES] = []
    return web.json_response({"seconds": times})


async def serve(port: int) -> None:
    app = web.Application(middlewares=[timer])
    app[TIMES] = []
    app.router.add_get("/r/{token}", follow)
    app.router.add_get("/stats", stats)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
