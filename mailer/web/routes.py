"""The whole URL table on one screen."""

from __future__ import annotations

from aiohttp import web

from mailer.config import Settings
from mailer.web import health, outbox


def add_routes(app: web.Application, settings: Settings, *, full: bool = True) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    if not full:
        return

    if not settings.is_production:
        app.router.add_get("/dev/outbox", outbox.list_page, name="outbox")
        app.router.add_get("/dev/outbox.json", outbox.list_json)
        app.router.add_post("/dev/outbox/clear", outbox.clear)
        app.router.add_get("/dev/outbox/{key}", outbox.message_page, name="outbox_message")
        app.router.add_get("/dev/outbox/{key}/html", outbox.message_html)
        app.router.add_get("/dev/outbox/{key}/text", outbox.message_text)
        app.router.add_get("/dev/outbox/{key}/raw", outbox.message_raw)
