"""`mailer serve`: the web app, the scheduler and the delivery workers in one event loop."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import AsyncExitStack
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import asyncpg
from aiohttp import web

from mailer.config import Settings, SmtpSecurity, SmtpSettings
from mailer.delivery.compose import Composer
from mailer.delivery.dkim import dkim_signer
from mailer.delivery.sender import DeliveryWorker
from mailer.delivery.smtp import check_relay
from mailer.demo.first_run import announce, first_run
from mailer.embedded import start_dev_smtp_sink
from mailer.errors import StartupError, bind_problem
from mailer.feedback.hook_dispatch import HookDispatcher
from mailer.feedback.policy import bounce_recorder
from mailer.feedback.receiver import start_receiver
from mailer.fetch import make_session
from mailer.metrics import Metrics
from mailer.runtime.database import open_database
from mailer.runtime.mail_kinds import standard_slot_providers
from mailer.runtime.schedule import Ticks, schedule_jobs
from mailer.runtime.supervisor import WorkerProcesses
from mailer.tokens import Signer

log = logging.getLogger(__name__)

# How long in-flight work may take to finish after SIGTERM before it is abandoned.
SHUTDOWN_GRACE_SECONDS = 20.0


class Role(StrEnum):
    ALL = "all"
    WEB = "web"
    WORKER = "worker"
    BOUNCES = "bounces"

    @property
    def runs_web(self) -> bool:
        return self in (Role.ALL, Role.WEB)

    @property
    def runs_worker(self) -> bool:
        return self in (Role.ALL, Role.WORKER)

    @property
    def runs_bounces(self) -> bool:
        return self in (Role.ALL, Role.BOUNCES)


async def run_service(
    settings: Settings, role: Role, stop: asyncio.Event, *, listen: bool = True
) -> None:
    """Run until `stop` is set, then shut down in reverse order of start-up.

    The web server stops taking requests first, then the workers finish what they
    hold, then the pool closes (and the embedded database stops, if we started it).
    Every role serves /healthz, /readyz and /metrics on MAILER_LISTEN unless `listen`
    is off (the extra worker processes `serve` starts itself).
    """
    metrics = Metrics()
    async with AsyncExitStack() as stack:
        pool, target = await stack.enter_async_context(
            open_database(settings, listen=role.runs_worker)
        )
        worker_task: asyncio.Task[None] | None = None
        if role.runs_worker:
            smtp = settings.smtp
            if smtp is None:
                sink = await start_dev_smtp_sink(settings.data_dir)
                stack.push_async_callback(sink.close)
                smtp = SmtpSettings(host=sink.host, port=sink.port)
            session = make_session(allow_private=settings.feed_allow_private)
            stack.push_async_callback(session.close)
            ticks = Ticks(metrics)
            schedule_jobs(ticks, settings, pool, session)
            ticks.start()
            stack.push_async_callback(ticks.stop, SHUTDOWN_GRACE_SECONDS)
            worker_task = await _start_worker(
                stack, settings, pool, target.listen_url, smtp, metrics
            )
            if settings.smtp is not None:  # a relay of the operator's, not the dev sink
                relay_check = asyncio.create_task(_check_relay(smtp), name="relay-check")
                stack.callback(relay_check.cancel)
            await _start_hooks(stack, settings, pool, metrics)
            if settings.worker_processes > 1:
                children = WorkerProcesses(
                    settings.worker_processes - 1,
                    {
                        "MAILER_DATABASE_URL": target.url,
                        "MAILER_DATABASE_POOLER": target.pooler.value,
                        "MAILER_SMTP_URL": smtp_url(smtp),
                    },
                    SHUTDOWN_GRACE_SECONDS,
                )
                await children.start()
                stack.push_async_callback(children.stop)
        if role.runs_bounces:
            receiver = await start_receiver(pool, settings, Signer(settings.signing_keys))
            stack.push_async_callback(receiver.close)
        if listen:
            await _start_web(stack, settings, pool, metrics, full=role.runs_web)
        seeded = None
        if listen and role.runs_web:  # the demo feed is served by the web role
            seeded = await first_run(pool, settings)
        # What start-up built (templates, routes, queries, libraries) lives as long as the
        # process: keep it out of the collector's full passes (a 70 ms pause with ~60,000
        # objects, measured under the signup benchmark).
        gc.freeze()
        log.info("mailer is running (role %s); stop with Ctrl-C or SIGTERM", role.value)
        if seeded is not None:
            announce(seeded, settings)
        stopped = asyncio.ensure_future(stop.wait())
        watched: list[asyncio.Future[Any]] = [stopped]
        if worker_task is not None:
            watched.append(worker_task)
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if worker_task is not None and worker_task.done() and not stop.is_set():
            error = worker_task.exception()
            raise StartupError(f"the delivery worker stopped unexpectedly: {error!r}")
        log.info("shutting down")
    log.info("stopped")


def smtp_url(smtp: SmtpSettings) -> str:
    """The URL form of SMTP settings, for child processes (they read the environment)."""
    scheme = "smtps" if smtp.security is SmtpSecurity.TLS else "smtp"
    auth = ""
    if smtp.username:
        auth = quote(smtp.username, safe="") + ":" + quote(smtp.password or "", safe="") + "@"
    query = "?starttls=true" if smtp.security is SmtpSecurity.STARTTLS else ""
    return f"{scheme}://{auth}{smtp.host}:{smtp.port}{query}"


async def _start_worker(
    stack: AsyncExitStack,
    settings: Settings,
    pool: asyncpg.Pool,
    listen_url: str | None,
    smtp: SmtpSettings,
    metrics: Metrics,
) -> asyncio.Task[None]:
    dkim = None
    if settings.dkim_key_file is not None:
        dkim = dkim_signer(settings.dkim_key_file, settings.dkim_selector, settings.dkim_domain)
    worker = DeliveryWorker(
        pool,
        settings,
        smtp,
        database_url=listen_url,
        composer=Composer(
            pool, settings, dkim=dkim, slot_providers=standard_slot_providers(settings)
        ),
        metrics=metrics,
        record_bounces=bounce_recorder(settings.bounces),
        grace_seconds=SHUTDOWN_GRACE_SECONDS,
    )
    worker_stop = asyncio.Event()
    task = asyncio.create_task(worker.run(worker_stop), name="delivery-worker")

    async def stop_worker() -> None:
        worker_stop.set()
        await asyncio.gather(task, return_exceptions=True)

    stack.push_async_callback(stop_worker)
    return task


async def _check_relay(smtp: SmtpSettings) -> None:
    """Say at start whether the SMTP relay takes our connection: the worker runs either way
    (mail waits in the queue and is retried), but an operator should not learn of a wrong
    MAILER_SMTP_URL from a queue that never empties."""
    where = f"{smtp.host}:{smtp.port}"
    problem = await check_relay(smtp)
    if problem is None:
        log.info("the SMTP relay at %s answers", where)
    elif problem.permanent:
        log.error(
            "the SMTP relay at %s refuses us (%s): no mail goes out until MAILER_SMTP_URL "
            "is fixed; mail waits in the queue meanwhile",
            where,
            problem.reply,
        )
    else:
        log.warning(
            "the SMTP relay at %s does not take our connection (%s): mail waits in the "
            "queue and is retried; check MAILER_SMTP_URL if this lasts",
            where,
            problem.reply,
        )


async def _start_hooks(
    stack: AsyncExitStack, settings: Settings, pool: asyncpg.Pool, metrics: Metrics
) -> None:
    """The outbound webhook dispatcher: its own task and HTTP client, beside the worker."""
    hooks_stop = asyncio.Event()
    dispatcher = HookDispatcher(pool, settings, metrics=metrics)
    task = asyncio.create_task(dispatcher.run(hooks_stop), name="webhooks")

    async def stop_hooks() -> None:
        hooks_stop.set()
        await asyncio.gather(task, return_exceptions=True)

    stack.push_async_callback(stop_hooks)


async def _start_web(
    stack: AsyncExitStack,
    settings: Settings,
    pool: asyncpg.Pool,
    metrics: Metrics,
    *,
    full: bool,
) -> None:
    # Imported here: a worker process started with --no-listen (the extra ones `serve`
    # starts, the benchmark's) never loads the web application (11 MB of its RSS).
    from mailer.web.app import create_app
    from mailer.web.connections import GuardedSite, connection_guard_key

    app = create_app(settings, pool, metrics=metrics, full=full)
    # Our access_log_middleware writes one line per request (route, request id, duration).
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = GuardedSite(
        runner,
        settings.listen_host,
        settings.listen_port,
        shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
        guard=app[connection_guard_key],
    )
    where = f"{settings.listen_host}:{settings.listen_port}"
    try:
        await site.start()
    except OSError as exc:
        raise StartupError(f"cannot listen on {where}: {bind_problem(exc)}") from exc
    if full:
        log.info("web server on http://%s, public URL %s", where, settings.base_url)
    else:
        log.info("health and metrics on http://%s", where)
