"""The whole URL table on one screen."""

from __future__ import annotations

from aiohttp import web

from mailer.config import Settings
from mailer.resources import static_dir
from mailer.web import api, health, outbox, preferences, public, webhooks


def add_routes(app: web.Application, settings: Settings, *, full: bool = True) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    if not full:
        return
    app.router.add_static("/static", static_dir())

    # The website's back end (signed)
    app.router.add_post("/webhooks/signup", webhooks.signup)
    app.router.add_post("/webhooks/content", webhooks.content)

    # Subscribers (no account; links in mail)
    app.router.add_get("/subscribe", public.subscribe_page)
    app.router.add_post("/subscribe", public.subscribe_post)
    app.router.add_get("/subscribe/embed", public.subscribe_embed_page)
    app.router.add_post("/subscribe/embed", public.subscribe_post)
    app.router.add_get("/subscribe/thanks", public.subscribe_thanks)
    app.router.add_get("/confirm/{token}", public.confirm_page)
    app.router.add_post("/confirm/{token}", public.confirm_post)
    app.router.add_post("/confirm/{token}/resend", public.confirm_resend)
    app.router.add_get("/preferences/{token}", preferences.preferences_page)
    app.router.add_post("/preferences/{token}", preferences.preferences_save)
    app.router.add_post("/preferences/{token}/unsubscribe", preferences.preferences_unsubscribe)
    app.router.add_post("/preferences/{token}/resubscribe", preferences.resubscribe)
    app.router.add_get("/preferences/{token}/data", preferences.data_download)
    app.router.add_get("/preferences/{token}/erase", preferences.erase_page)
    app.router.add_post("/preferences/{token}/erase", preferences.erase_post)
    app.router.add_get("/unsubscribe/{token}", preferences.unsubscribe_page)
    app.router.add_post("/unsubscribe/{token}", preferences.unsubscribe_post)

    # Editors (API key)
    v1 = api.create_api_app(app)  # every route below needs an API key
    v1.router.add_get("/topics", api.list_topics_handler)
    v1.router.add_post("/topics", api.create_topic_handler)
    v1.router.add_patch("/topics/{slug}", api.update_topic_handler)
    v1.router.add_delete("/topics/{slug}", api.delete_topic_handler)
    v1.router.add_get("/feeds", api.list_feeds_handler)
    v1.router.add_post("/feeds", api.create_feed_handler)
    v1.router.add_patch("/feeds/{source_id}", api.update_feed_handler)
    v1.router.add_delete("/feeds/{source_id}", api.delete_feed_handler)
    v1.router.add_post("/feeds/{source_id}/poll", api.poll_feed_handler)
    v1.router.add_get("/items", api.list_items_handler)
    v1.router.add_patch("/items/{item_id}", api.edit_item_handler)
    v1.router.add_get("/subscribers/data", api.subscriber_data)
    v1.router.add_post("/subscribers/erase", api.subscriber_erase)
    v1.router.add_get("/mailings/{mailing_id}/progress", api.mailing_progress)
    v1.router.add_post("/mailings/{mailing_id}/pause", api.pause_mailing)
    v1.router.add_post("/mailings/{mailing_id}/resume", api.resume_mailing)
    v1.router.add_post("/mailings/{mailing_id}/cancel", api.cancel_mailing)
    app.add_subapp("/api/v1", v1)

    if not settings.is_production:
        app.router.add_get("/dev/outbox", outbox.list_page, name="outbox")
        app.router.add_get("/dev/outbox.json", outbox.list_json)
        app.router.add_post("/dev/outbox/clear", outbox.clear)
        app.router.add_get("/dev/outbox/{key}", outbox.message_page, name="outbox_message")
        app.router.add_get("/dev/outbox/{key}/html", outbox.message_html)
        app.router.add_get("/dev/outbox/{key}/text", outbox.message_text)
        app.router.add_get("/dev/outbox/{key}/raw", outbox.message_raw)
