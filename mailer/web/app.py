"""The aiohttp application factory: keys, templates, middleware, routes."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import jinja2
from aiohttp import web

from mailer.accounts.editors import prepare_sign_in
from mailer.audience.signup_batch import SignupWriter
from mailer.config import Settings
from mailer.delivery.wakeup import DeliveryWaker
from mailer.i18n import Localized
from mailer.limits import SignupLimits, SlidingWindow
from mailer.metrics import Metrics
from mailer.resources import migrations_dir, templates_dir
from mailer.tokens import Signer
from mailer.web import keys
from mailer.web.access_log import access_log_middleware
from mailer.web.connections import (
    ConnectionGuard,
    connection_clock_middleware,
    connection_guard_key,
)
from mailer.web.middleware import error_middleware, security_headers_middleware
from mailer.web.redirect import counting
from mailer.web.routes import add_routes
from mailer.web.sns_fetch import SnsFetcher
from mailer.web.text_guard import text_guard_middleware


def page_environment(settings: Settings) -> jinja2.Environment:
    """Jinja for web pages; templates in <data dir>/templates override the packaged ones."""
    override = settings.data_dir / "templates"
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(override), str(templates_dir())]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        enable_async=False,
    )


async def _close_signups(signups: SignupWriter, waker: DeliveryWaker) -> None:
    await signups.close()
    await waker.close()


def create_app(
    settings: Settings,
    pool: asyncpg.Pool,
    *,
    migrations: Path | None = None,
    metrics: Metrics | None = None,
    full: bool = True,
) -> web.Application:
    """The web application; `full=False` serves only the probes and metrics (worker role)."""
    app = web.Application(
        middlewares=[
            access_log_middleware,
            connection_clock_middleware,
            security_headers_middleware,
            error_middleware,
            text_guard_middleware,
        ],
        client_max_size=1024 * 1024,
    )
    app[keys.settings_key] = settings
    app[connection_guard_key] = ConnectionGuard(
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        per_ip=0 if settings.trust_proxy else settings.connections_per_ip,
    )
    app[keys.pool_key] = pool
    app[keys.pages_key] = page_environment(settings)
    app[keys.localized_pages_key] = Localized(
        lambda: page_environment(settings), english=app[keys.pages_key]
    )
    app[keys.migrations_dir_key] = migrations or migrations_dir()
    app[keys.metrics_key] = metrics or Metrics()
    app[keys.signer_key] = Signer(settings.signing_keys)
    app[keys.limits_key] = SignupLimits(settings.signup_rate_per_ip)
    app[keys.bounce_limits_key] = SlidingWindow(settings.bounces.webhook_rate_per_minute, 60.0)
    app[keys.sns_fetch_key] = SnsFetcher()
    waker = DeliveryWaker(pool)
    app[keys.signups_key] = signups = SignupWriter(
        pool, confirm_ttl_seconds=settings.confirm_ttl_seconds, waker=waker
    )
    app.on_startup.append(lambda _: prepare_sign_in())
    app.on_cleanup.append(lambda _: _close_signups(signups, waker))
    if full:
        counting(app)  # the click counter of /r/{token}, flushed every second
    add_routes(app, settings, full=full)
    return app
