"""Extra delivery worker processes (MAILER_WORKERS > 1), started and stopped with serve."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping

log = logging.getLogger(__name__)


def restart_delay(previous: float, ran_for: float) -> float:
    """Seconds before restarting a child that exited: 1 s after a good run (a minute or
    more), else twice the last wait, at most a minute, so a child that cannot start (a bad
    setting, the database refusing it) does not spin and fill the log every second."""
    if ran_for >= 60 or previous <= 0:
        return 1.0
    return min(previous * 2, 60.0)


class WorkerProcesses:
    """Runs `mailer serve --role worker --no-listen` children; restarts one that dies."""

    def __init__(self, count: int, env: Mapping[str, str], grace_seconds: float) -> None:
        self.count = count
        self.env = {**os.environ, **env, "MAILER_WORKERS": "1"}
        self.grace_seconds = grace_seconds
        self.processes: list[asyncio.subprocess.Process] = []
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        for index in range(self.count):
            self._watchers.append(asyncio.create_task(self._keep_running(index)))

    async def _spawn(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mailer", "serve", "--role", "worker", "--no-listen", env=self.env
        )

    async def _keep_running(self, index: int) -> None:
        delay = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            process = await self._spawn()
            self.processes.append(process)
            log.info("worker process %d started (pid %d)", index + 1, process.pid)
            started = loop.time()
            code = await process.wait()
            self.processes.remove(process)
            if self._stopping:
                return
            delay = restart_delay(delay, loop.time() - started)
            log.error(
                "worker process %d exited with %s; restarting in %.0fs", index + 1, code, delay
            )
            await asyncio.sleep(delay)

    async def stop(self) -> None:
        self._stopping = True
        for process in list(self.processes):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in list(self.processes):
            try:
                await asyncio.wait_for(process.wait(), self.grace_seconds + 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
