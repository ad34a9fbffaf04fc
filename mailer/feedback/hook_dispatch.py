"""Delivering outbox events to webhook endpoints: at least once, in order per subject,
signed like our inbound webhooks, retried with backoff up to a deadline.

One task per endpoint (its own queue, so a dead endpoint holds up nobody else), with its
own HTTP client and timeouts, apart from the delivery worker's loops (a slow endpoint never
slows sending). Replicas share endpoints through a lease in the database; each endpoint's
fan-out cursor lives there too, so nothing is sent twice by two replicas nor skipped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import socket
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg

from mailer import __version__
from mailer.config import Settings
from mailer.db import DB_ERRORS, load_queries
from mailer.errors import InvalidInput
from mailer.feedback.hooks import check_url
from mailer.fetch import PublicOnlyResolver
from mailer.metrics import Metrics
from mailer.signatures import HEADER, sign

log = logging.getLogger(__name__)
Q = load_queries("feedback/hooks")

POLL_SECONDS = 1.0  # how often the outbox is looked at (no NOTIFY is relied on)
LEASE_SECONDS = 60.0
FAN_OUT_BATCH = 1000
ROUND_SIZE = 50  # events sent per round (distinct subjects), CONCURRENCY at a time
CONCURRENCY = 8
MAX_DELAY = 3600.0


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@dataclass(frozen=True)
class Attempt:
    hook_delivery_id: int
    status: int | None  # HTTP status, None when no answer
    error: str | None  # None: delivered


def payload_of(row: asyncpg.Record) -> dict[str, Any]:
    """The JSON body of one event: stable field names, receivers may rely on them."""
    subject: dict[str, Any] = {"type": row["subject"], "id": row["subject_id"]}
    if row["email"] is not None:
        subject["email"] = row["email"]  # the subscriber's current address, if they exist
    return {
        "id": row["event_id"],
        "type": row["type"],
        "created_at": row["created_at"].isoformat(),
        "subject": subject,
        "data": row["payload"],
    }


def make_hook_session(settings: Settings) -> aiohttp.ClientSession:
    hooks = settings.hooks
    connector = aiohttp.TCPConnector(
        resolver=None if hooks.allow_private else PublicOnlyResolver(),
        limit=100,
        limit_per_host=CONCURRENCY,
        ttl_dns_cache=60,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(
            total=hooks.timeout_seconds, sock_connect=min(hooks.timeout_seconds, 5.0)
        ),
        headers={"User-Agent": f"mailer-webhooks/{__version__}"},
    )


class HookDispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        name: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.tasks: dict[int, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Serve endpoints until `stop`: take the lease of each active endpoint nobody
        serves, and run a task for it; give the leases back when stopping."""
        async with make_hook_session(self.settings) as session:
            while not stop.is_set():
                try:
                    await self._adopt(session, stop)
                except DB_ERRORS as exc:
                    log.warning("webhook dispatcher cannot read endpoints (%s)", exc)
                await _sleep(stop, POLL_SECONDS)
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    async def _adopt(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        for endpoint_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[endpoint_id]
                if not task.cancelled() and task.exception() is not None:
                    log.error(
                        "webhook endpoint %d: its task failed; taking it up again",
                        endpoint_id,
                        exc_info=task.exception(),
                    )
        for row in await self.pool.fetch(Q["active_endpoint_ids"]):
            endpoint_id = row["endpoint_id"]
            if endpoint_id in self.tasks:
                continue
            if await self.pool.fetchrow(Q["take_lease"], endpoint_id, self.name, LEASE_SECONDS):
                self.tasks[endpoint_id] = asyncio.create_task(
                    EndpointQueue(self, session, endpoint_id).run(stop),
                    name=f"webhook-endpoint-{endpoint_id}",
                )


class EndpointQueue:
    """Everything for one endpoint: fan-out, per-subject heads, sending, outcomes."""

    def __init__(
        self, dispatcher: HookDispatcher, session: aiohttp.ClientSession, endpoint_id: int
    ) -> None:
        self.pool = dispatcher.pool
        self.settings = dispatcher.settings
        self.name = dispatcher.name
        self.metrics = dispatcher.metrics
        self.session = session
        self.endpoint_id = endpoint_id

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    busy = await self._round()
                except DB_ERRORS as exc:
                    log.warning("webhook endpoint %d: database trouble (%s)", self.endpoint_id, exc)
                    busy = None
                if busy is None:
                    return  # lease lost or endpoint gone: the dispatcher re-adopts if needed
                if not busy:
                    await _sleep(stop, POLL_SECONDS)
        finally:
            with contextlib.suppress(*DB_ERRORS):  # else the lease runs out by itself
                await self.pool.execute(Q["release_lease"], self.endpoint_id, self.name)

    async def _round(self) -> bool | None:
        """One round; None when this replica no longer serves the endpoint, else whether
        there may be more to do at once."""
        endpoint = await self.pool.fetchrow(
            Q["take_lease"], self.endpoint_id, self.name, LEASE_SECONDS
        )
        if endpoint is None:
            return None
        for _ in range(10):  # catch up on a backlog, a bounded amount per round
            row = await self.pool.fetchrow(
                Q["fan_out"],
                self.endpoint_id,
                self.name,
                FAN_OUT_BATCH,
                self.settings.hooks.max_age_seconds,
            )
            if row is None or row["examined"] < FAN_OUT_BATCH:
                break
        await self.pool.execute(Q["expire_deliveries"], self.endpoint_id)
        if endpoint["blocked"]:
            return False
        # A failing endpoint gets one probe per round, not a flood.
        limit = 1 if endpoint["failures"] else ROUND_SIZE
        heads = await self.pool.fetch(Q["claim_heads"], self.endpoint_id, limit)
        if not heads:
            return False
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(row: asyncpg.Record) -> Attempt:
            async with semaphore:
                return await self._post(endpoint["url"], endpoint["secret"], row)

        attempts = await asyncio.gather(*(one(row) for row in heads))
        await self._record(heads, attempts, endpoint["failures"])
        return all(a.error is None for a in attempts)

    async def _post(self, url: str, secret: str, row: asyncpg.Record) -> Attempt:
        body = json.dumps(payload_of(row), default=str).encode()
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(secret, body),
            "Mailer-Event-Id": str(row["event_id"]),
            "Mailer-Event-Type": row["type"],
            "Mailer-Delivery-Attempt": str(row["attempts"] + 1),
        }
        delivery_id = row["hook_delivery_id"]
        try:
            check_url(url, self.settings)
            async with self.session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                text = (await response.content.read(300)).decode(errors="replace")
                if 200 <= response.status < 300:
                    return Attempt(delivery_id, response.status, None)
                return Attempt(
                    delivery_id,
                    response.status,
                    f"HTTP {response.status}: {' '.join(text.split())}",
                )
        except InvalidInput as exc:
            return Attempt(delivery_id, None, f"refused: {'; '.join(exc.fields.values())}")
        except TimeoutError:
            return Attempt(
                delivery_id, None, f"no answer within {self.settings.hooks.timeout_seconds}s"
            )
        except aiohttp.ClientConnectorError as exc:
            return Attempt(delivery_id, None, f"cannot connect: {exc.os_error or exc}")
        except (aiohttp.ClientError, OSError) as exc:
            return Attempt(delivery_id, None, f"request failed: {exc!r}"[:500])

    def delay(self, attempts: int) -> float:
        """Exponential backoff with +-20 % jitter, at most an hour."""
        base = self.settings.hooks.retry_base_seconds
        return min(base * 2 ** max(attempts - 1, 0), MAX_DELAY) * random.uniform(0.8, 1.2)

    async def _record(
        self, heads: list[asyncpg.Record], attempts: list[Attempt], failures: int
    ) -> None:
        by_id = {row["hook_delivery_id"]: row for row in heads}
        ok = [a for a in attempts if a.error is None]
        failed = [a for a in attempts if a.error is not None]
        async with self.pool.acquire() as conn, conn.transaction():
            if ok:
                await conn.execute(
                    Q["mark_delivered"], [a.hook_delivery_id for a in ok], [a.status for a in ok]
                )
                await conn.execute(Q["endpoint_succeeded"], self.endpoint_id)
            if failed:
                await conn.execute(
                    Q["mark_attempt_failed"],
                    [a.hook_delivery_id for a in failed],
                    [a.status for a in failed],
                    [(a.error or "")[:1000] for a in failed],
                    [self.delay(by_id[a.hook_delivery_id]["attempts"] + 1) for a in failed],
                )
            if failed and not ok:
                # The endpoint waits before its next probe: doubled per failed round.
                await conn.execute(Q["endpoint_failed"], self.endpoint_id, self.delay(failures + 1))
        self.metrics.webhook_attempts.labels("delivered").inc(len(ok))
        self.metrics.webhook_attempts.labels("failed").inc(len(failed))
        for attempt in failed:
            log.info(
                "webhook endpoint %d: event delivery %d failed (%s)",
                self.endpoint_id,
                attempt.hook_delivery_id,
                attempt.error,
            )
