"""The delivery worker: claim under lease, compose, send over pooled SMTP, record in batches.

Nothing is lost: a row is `sending` only while a worker holds its lease; every attempt ends
in `sent`, `deferred` (with backoff), `failed` (with the reply) or `suppressed`; a worker
that dies leaves rows whose lease expires and which any worker then takes back. A mail can
be sent twice only if the worker dies after the SMTP server accepted it and before its
outcome was written: at most its hold, 2 x MAILER_CLAIM_BATCH (see `held`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from mailer.config import Settings, SmtpSettings
from mailer.db import DB_ERRORS
from mailer.delivery import mailings
from mailer.delivery import queue as deliveries
from mailer.delivery.compose import Composer
from mailer.delivery.ledger import BounceRecorder, Ledger
from mailer.delivery.ratelimit import SendBudget
from mailer.delivery.render import TemplateProblem
from mailer.delivery.smtp import SmtpConnection, SmtpFailure
from mailer.delivery.throttle import Throttle, throttle_limits
from mailer.metrics import Metrics, reply_class
from mailer.models import Bounce, ClaimedDelivery

log = logging.getLogger(__name__)

_FLUSH_INTERVAL = 0.05  # seconds: outcomes reach the database within this, bounding duplicates
_FLUSH_SIZE = 500
_POLL_INTERVAL = 1.0  # backstop when no notification arrives (deferred rows coming due)
_HOUSEKEEPING_INTERVAL = 2.0


async def _wait_any(*events: asyncio.Event, timeout: float | None = None) -> None:
    """Return when any event is set or the timeout passes."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class DeliveryWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        smtp: SmtpSettings,
        *,
        database_url: str | None,
        composer: Composer,
        metrics: Metrics,
        record_bounces: BounceRecorder,
        name: str | None = None,
        grace_seconds: float = 20.0,
        connection_factory: Callable[[SmtpSettings], SmtpConnection] = SmtpConnection,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.smtp = smtp
        self.database_url = database_url
        self.composer = composer
        self.metrics = metrics
        # The children counted per sent mail, looked up once (labels() takes a lock).
        self._replied_2xx = metrics.smtp_replies.labels("2xx")
        self._sent = metrics.deliveries.labels("sent")
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.grace_seconds = grace_seconds
        self.connection_factory = connection_factory
        self.batch = settings.claim_batch
        # The hold: claimed rows with no outcome written (queued, in flight, in the Ledger).
        self.capacity = 2 * self.batch
        self.held = 0
        self.queue: asyncio.Queue[ClaimedDelivery | None] = asyncio.Queue()
        self.ledger = Ledger(record_bounces=record_bounces)
        self.budget = SendBudget(pool, settings.send_rate)
        self.throttle = Throttle(throttle_limits(settings))
        self.wake = asyncio.Event()  # a notification: new rows may be due
        self.room = asyncio.Event()  # outcomes were written: the hold may have room
        self.flush_now = asyncio.Event()
        self.stopping = asyncio.Event()
        self.idle = asyncio.Event()  # nothing claimed on the last try (tests, benchmarks)

    # ------------------------------------------------------------------ lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then stop claiming, let in-flight SMTP transactions
        finish within the grace period, give back unstarted rows and flush outcomes."""
        await self._retry_db("prepare the send budget", self.budget.setup)
        senders = [
            asyncio.create_task(
                self._sender(self.connection_factory(self.smtp)), name=f"sender-{i}"
            )
            for i in range(self.settings.smtp_concurrency)
        ]
        flusher = asyncio.create_task(self._flush_loop(), name="flusher")
        background = [
            asyncio.create_task(self._listen(), name="listen"),
            asyncio.create_task(self._housekeeping(), name="housekeeping"),
        ]
        claimer = asyncio.create_task(self._claim_loop(), name="claimer")
        log.info(
            "delivery worker %s started: %d SMTP connections to %s:%d",
            self.name,
            len(senders),
            self.smtp.host,
            self.smtp.port,
        )
        # A task that ends before `stop` has died: stop the whole worker (its rows are
        # safe in the queue) rather than limp on without claiming, recording or expiring.
        stopped = asyncio.create_task(stop.wait(), name="stop-signal")
        tasks = [claimer, flusher, *background, *senders]
        done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        died = next((task for task in tasks if task in done), None)
        if died is not None:
            log.error(
                "delivery worker task %s ended unexpectedly; stopping the worker",
                died.get_name(),
                exc_info=died.exception(),
            )
        stopped.cancel()
        self.stopping.set()
        await asyncio.gather(claimer, return_exceptions=True)
        unstarted: list[int] = []
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if item is not None:
                unstarted.append(item.delivery_id)
        for _ in senders:
            self.queue.put_nowait(None)
        _, pending = await asyncio.wait(senders, timeout=self.grace_seconds)
        for task in pending:  # an SMTP transaction cut short: its lease will requeue it
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await self._final_writes(unstarted)
        log.info("delivery worker %s stopped", self.name)
        if died is not None:
            raise RuntimeError(f"delivery worker task {died.get_name()} failed") from (
                died.exception()
            )

    async def _final_writes(self, unstarted: list[int]) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                await self._flush()
                await deliveries.release_claims(self.pool, unstarted, self.name)
                return
            except DB_ERRORS as exc:
                log.warning("cannot record final outcomes yet (%s); retrying", exc)
                await asyncio.sleep(0.5)
        log.error(
            "gave up recording %d outcomes at shutdown; their leases will requeue them",
            len(self.ledger),
        )

    async def _retry_db(self, what: str, action: Callable[[], Awaitable[object]]) -> None:
        delay = 0.2
        while not self.stopping.is_set():
            try:
                await action()
                return
            except DB_ERRORS as exc:
                log.warning("cannot %s (%s); retrying in %.1fs", what, exc, delay)
                await _wait_any(self.stopping, timeout=delay)
                delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------------ claiming

    async def _claim_loop(self) -> None:
        delay = 0.2
        while not self.stopping.is_set():
            # Claim only while a whole batch fits in the hold (full while the database is away).
            if self.capacity - self.held < self.batch:
                self.room.clear()
                await _wait_any(self.room, self.stopping, timeout=1.0)
                continue
            self.wake.clear()
            try:
                granted, wait = await self.budget.take(self.batch)
                if granted == 0:
                    await _wait_any(self.stopping, timeout=max(wait, 0.01))
                    continue
                claimed, settled = await deliveries.claim_deliveries(
                    self.pool,
                    limit=granted,
                    lease_seconds=self.settings.lease_seconds,
                    worker=self.name,
                )
                await self.budget.give_back(granted - len(claimed))
                delay = 0.2
            except DB_ERRORS as exc:
                log.warning("claiming deliveries failed (%s); retrying in %.1fs", exc, delay)
                await _wait_any(self.stopping, timeout=delay)
                delay = min(delay * 2, 5.0)
                continue
            if settled:
                self.metrics.deliveries.labels("suppressed").inc(settled)
            if claimed:
                self.idle.clear()
                self.metrics.claimed.inc(len(claimed))
                self.held += len(claimed)
                for delivery in claimed:
                    self.queue.put_nowait(delivery)
            elif not settled:
                self.idle.set()
                await _wait_any(self.wake, self.stopping, timeout=_POLL_INTERVAL)

    async def _listen(self) -> None:
        """LISTEN on a dedicated connection; any notification wakes the claimer. Without a
        URL to listen on (behind a transaction pooler, which cannot keep a LISTEN) the
        claimer polls every second instead."""
        if self.database_url is None:
            await asyncio.get_running_loop().create_future()  # until the worker stops
        delay = 0.5
        while True:
            closed = asyncio.Event()
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.database_url, timeout=10)
                conn.add_termination_listener(lambda _, closed=closed: closed.set())
                await conn.add_listener("mailer_deliveries", lambda *_: self.wake.set())
                self.wake.set()  # rows may have arrived while nobody listened
                delay = 0.5
                await closed.wait()
                log.warning("the LISTEN connection closed; reconnecting")
            except DB_ERRORS as exc:
                log.debug("LISTEN connection failed (%s); polling meanwhile", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()

    async def _housekeeping(self) -> None:
        """Lease expiry and finished mailings; idempotent on any instance."""
        while True:
            try:
                requeued = await deliveries.expire_leases(self.pool)
                if requeued:
                    log.warning("requeued %d deliveries whose worker stopped", requeued)
                    self.metrics.requeued.inc(requeued)
                for mailing_id in await mailings.finish_completed(self.pool):
                    log.info("mailing %d is sent", mailing_id)
                    self.composer.forget(mailing_id)
            except DB_ERRORS as exc:
                log.warning("housekeeping failed (%s)", exc)
            await asyncio.sleep(_HOUSEKEEPING_INTERVAL)

    # ------------------------------------------------------------------ sending

    async def _sender(self, connection: SmtpConnection) -> None:
        backoff = 0.0
        try:
            while True:
                delivery = await self.queue.get()
                if delivery is None:
                    break
                connection_failed = await self._deliver(connection, delivery)
                if connection_failed:
                    # The server is down or refusing: don't burn through the queue.
                    backoff = min(max(backoff * 2, 0.5), 30.0)
                    await _wait_any(self.stopping, timeout=backoff)
                else:
                    backoff = 0.0
        finally:
            await connection.close()

    async def _deliver(self, connection: SmtpConnection, delivery: ClaimedDelivery) -> bool:
        """One attempt; returns True when the connection itself failed."""
        wait = self.throttle.admit(delivery.recipient)
        if wait > 0:  # its domain's limit or back-off: later, while other domains go on
            self._defer(delivery, "throttled for its receiving domain", wait)
            return False
        try:
            return await self._attempt(connection, delivery)
        finally:
            self.throttle.done(delivery.recipient)

    async def _attempt(self, connection: SmtpConnection, delivery: ClaimedDelivery) -> bool:
        try:
            outgoing = await self.composer.compose(delivery, wire=True)
        except TemplateProblem as problem:
            log.error("delivery %d not sent: %s", delivery.delivery_id, problem)
            self._fail(delivery, f"not sent: {problem}")
            return False
        except DB_ERRORS as exc:  # loading the mailing failed: try again later
            self._defer(delivery, f"not sent: database unavailable ({exc})")
            return False
        except Exception as exc:
            # Park the row for a human instead of killing the loop.
            log.exception("composing delivery %d failed", delivery.delivery_id)
            self._fail(delivery, f"not sent: unexpected error while composing: {exc!r}")
            return False
        started = time.perf_counter()
        try:
            await connection.send(
                outgoing.envelope_from,
                outgoing.recipient,
                outgoing.data,
                smtputf8=outgoing.smtputf8,
                stuffed=outgoing.stuffed,
            )
        except SmtpFailure as failure:
            self.metrics.smtp_replies.labels(reply_class(failure.code)).inc()
            self._smtp_failure(delivery, failure)
            return failure.phase in ("connection", "authentication") and not failure.permanent
        except Exception as exc:
            log.exception("sending delivery %d failed unexpectedly", delivery.delivery_id)
            self._defer(delivery, f"unexpected error while sending: {exc!r}")
            return True
        self.metrics.smtp_seconds.observe(time.perf_counter() - started)
        self._replied_2xx.inc()
        self._sent.inc()
        self.ledger.sent.append((delivery.delivery_id, outgoing.message_id))
        self._maybe_flush()
        return False

    def _smtp_failure(self, delivery: ClaimedDelivery, failure: SmtpFailure) -> None:
        self.throttle.failed(delivery.recipient, failure.code, failure.enhanced, failure.phase)
        if not failure.permanent:
            self._defer(delivery, failure.reply)
            return
        self._fail(delivery, failure.reply)
        self._bounce(delivery, "hard" if failure.hard_bounce else "block", failure.reply)

    def _bounce(self, delivery: ClaimedDelivery, kind: str, detail: str) -> None:
        self.ledger.bounces.append(
            Bounce(
                delivery_id=delivery.delivery_id,
                subscriber_id=delivery.subscriber_id,
                recipient=delivery.recipient,
                kind=kind,
                source="smtp",
                detail=detail[:1000],
            )
        )

    def retry_delay(self, attempts: int) -> float:
        """Exponential backoff with +-20 % jitter, so retries don't arrive in waves."""
        s = self.settings
        delay = min(s.retry_base_seconds * 2 ** max(attempts - 1, 0), s.retry_max_delay_seconds)
        return delay * random.uniform(0.8, 1.2)

    def _defer(self, delivery: ClaimedDelivery, reply: str, wait: float | None = None) -> None:
        now = datetime.now(UTC)
        age = (now - delivery.created_at).total_seconds()
        if age >= self.settings.retry_max_age_seconds:
            self._fail(delivery, f"gave up after {delivery.attempts} attempts: {reply}")
            self._bounce(delivery, "soft", f"gave up after {delivery.attempts} attempts: {reply}")
            return
        delay = self.retry_delay(delivery.attempts) if wait is None else wait
        next_attempt = now + timedelta(seconds=delay)
        self.metrics.deliveries.labels("deferred").inc()
        self.ledger.deferred.append((delivery.delivery_id, next_attempt, reply[:1000]))
        self._maybe_flush()

    def _fail(self, delivery: ClaimedDelivery, reply: str) -> None:
        self.metrics.deliveries.labels("failed").inc()
        self.ledger.failed.append((delivery.delivery_id, reply[:1000]))
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self.ledger) >= _FLUSH_SIZE:
            self.flush_now.set()

    async def _flush(self) -> None:
        written = await self.ledger.flush(self.pool)  # rows written leave the hold
        self.held -= written  # not `held -= await ...`: that reads `held` before the await
        self.room.set()  # the claimer checks whether a batch fits now

    async def _flush_loop(self) -> None:
        delay = 0.2
        while True:
            await _wait_any(self.flush_now, timeout=_FLUSH_INTERVAL)
            self.flush_now.clear()
            try:
                await self._flush()
                delay = 0.2
            except DB_ERRORS as exc:
                log.warning(
                    "recording %d outcomes failed (%s); retrying in %.1fs",
                    len(self.ledger),
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:
                # Never let the flusher die: the worker would go on sending while no
                # outcome is recorded, and every lease expiry would send the rows again.
                log.exception(
                    "recording %d outcomes failed; retrying in %.1fs", len(self.ledger), delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
