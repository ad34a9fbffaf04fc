"""The whole URL table on one screen."""

from __future__ import annotations

from aiohttp import web

from mailer.config import DEMO_FEED_PATH, Settings
from mailer.resources import static_dir
from mailer.web import (
    alert_pages,
    api,
    api_alerts,
    api_clicks,
    api_digests,
    api_feedback,
    api_repermission,
    api_subscribers,
    archive,
    archive_feeds,
    bounce_webhooks,
    confirm_pages,
    console,
    health,
    keep,
    new_link,
    openapi,
    outbox,
    preferences,
    public,
    redirect,
    start,
    webhooks,
)


def add_routes(app: web.Application, settings: Settings, *, full: bool = True) -> None:
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    if not full:
        return
    app.router.add_static("/static", static_dir())
    app.router.add_get("/favicon.ico", start.favicon)
    app.router.add_get("/", start.start_page)
    app.router.add_get("/archive", archive.archive_page)
    app.router.add_get("/archive.atom", archive_feeds.archive_atom)
    app.router.add_get("/sitemap.xml", archive_feeds.sitemap)
    app.router.add_get("/robots.txt", archive_feeds.robots)
    app.router.add_get("/archive/items/{item_id}", alert_pages.archived_item)
    app.router.add_get("/archive/{slug}", archive.archived_digest)
    app.router.add_get("/archive/{slug}/body", archive.archived_digest_body)
    # Item links in mail (GET and HEAD): counted, then on to the story
    app.router.add_get("/r/{token}", redirect.follow)

    # The website's back end (signed)
    app.router.add_post("/webhooks/signup", webhooks.signup)
    app.router.add_post("/webhooks/content", webhooks.content)
    # Bounce and complaint events: ours (signed), Mailgun's, Postmark's
    app.router.add_post("/webhooks/bounce", bounce_webhooks.generic)
    app.router.add_post("/webhooks/bounce/mailgun", bounce_webhooks.mailgun)
    app.router.add_post("/webhooks/bounce/postmark", bounce_webhooks.postmark)
    app.router.add_post("/webhooks/bounce/ses", bounce_webhooks.ses)

    # Subscribers (no account; links in mail)
    app.router.add_get("/subscribe", public.subscribe_page)
    app.router.add_post("/subscribe", public.subscribe_post)
    app.router.add_get("/subscribe/embed", public.subscribe_embed_page)
    app.router.add_post("/subscribe/embed", public.subscribe_post)
    app.router.add_get("/subscribe/thanks", public.subscribe_thanks)
    app.router.add_get("/new-link", new_link.new_link_page)
    app.router.add_post("/new-link", new_link.new_link_post)
    app.router.add_get("/confirm/{token}", confirm_pages.confirm_page)
    app.router.add_post("/confirm/{token}", confirm_pages.confirm_post)
    app.router.add_post("/confirm/{token}/resend", confirm_pages.confirm_resend)
    app.router.add_get("/preferences/{token}", preferences.preferences_page)
    app.router.add_post("/preferences/{token}", preferences.preferences_save)
    app.router.add_post("/preferences/{token}/unsubscribe", preferences.preferences_unsubscribe)
    app.router.add_post("/preferences/{token}/resubscribe", preferences.resubscribe)
    app.router.add_get("/preferences/{token}/data", preferences.data_download)
    app.router.add_get("/preferences/{token}/erase", preferences.erase_page)
    app.router.add_post("/preferences/{token}/erase", preferences.erase_post)
    app.router.add_get("/unsubscribe/alerts/{token}", alert_pages.stop_alerts_page)
    app.router.add_post("/unsubscribe/alerts/{token}", alert_pages.stop_alerts_post)
    app.router.add_get("/keep/{token}", keep.keep_page)
    app.router.add_post("/keep/{token}", keep.keep_post)
    app.router.add_get("/unsubscribe/{token}", preferences.unsubscribe_page)
    app.router.add_post("/unsubscribe/{token}", preferences.unsubscribe_post)

    # Editors (API key; the description itself is public)
    app.router.add_get("/api/v1/openapi.json", openapi.openapi)
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
    v1.router.add_get("/series", api_digests.list_series)
    v1.router.add_post("/series", api_digests.create_series)
    v1.router.add_patch("/series/{series_id}", api_digests.update_series)
    v1.router.add_delete("/series/{series_id}", api_digests.delete_series)
    v1.router.add_get("/digests", api_digests.list_digests)
    v1.router.add_post("/digests", api_digests.create_digest)
    v1.router.add_get("/digests/{mailing_id}", api_digests.get_digest)
    v1.router.add_patch("/digests/{mailing_id}", api_digests.edit_digest)
    v1.router.add_post("/digests/{mailing_id}/schedule", api_digests.schedule_digest)
    v1.router.add_post("/digests/{mailing_id}/send-now", api_digests.send_now)
    v1.router.add_post("/digests/{mailing_id}/cancel", api_digests.cancel_digest)
    v1.router.add_get("/digests/{mailing_id}/preview", api_digests.preview_digest)
    v1.router.add_post("/digests/{mailing_id}/test-send", api_digests.test_send)
    v1.router.add_get("/digests/{mailing_id}/stats", api_digests.digest_stats)
    v1.router.add_get("/alerts", api_alerts.list_alerts)
    v1.router.add_post("/alerts", api_alerts.create_alert)
    v1.router.add_get("/alerts/{alert_id}", api_alerts.get_alert)
    v1.router.add_post("/alerts/{alert_id}/send", api_alerts.send_alert)
    v1.router.add_post("/alerts/{alert_id}/cancel", api_alerts.cancel_alert)
    v1.router.add_get("/alerts/{alert_id}/preview", api_alerts.preview_alert)
    v1.router.add_post("/items/{item_id}/corrections", api_alerts.create_correction)
    v1.router.add_get("/items/{item_id}/audit", api_alerts.item_audit)
    v1.router.add_post("/repermission", api_repermission.create_campaign)
    v1.router.add_get("/repermission/{campaign_id}", api_repermission.get_campaign)
    v1.router.add_post("/repermission/{campaign_id}/send", api_repermission.send_campaign)
    v1.router.add_post("/repermission/{campaign_id}/remove", api_repermission.remove_unanswered)
    v1.router.add_get("/corrections", api_alerts.list_corrections)
    v1.router.add_get("/corrections/{correction_id}", api_alerts.get_correction)
    v1.router.add_post("/corrections/{correction_id}/send", api_alerts.send_correction)
    v1.router.add_post("/corrections/{correction_id}/cancel", api_alerts.cancel_correction)
    v1.router.add_get("/corrections/{correction_id}/preview", api_alerts.preview_correction)
    v1.router.add_get("/subscribers/data", api.subscriber_data)
    v1.router.add_post("/subscribers/erase", api.subscriber_erase)
    api_subscribers.setup(v1, app)
    v1.router.add_get("/subscribers", api_subscribers.search_handler)
    v1.router.add_get("/subscribers/export", api_subscribers.export_handler)
    v1.router.add_post("/subscribers/import", api_subscribers.import_handler)
    v1.router.add_get("/subscribers/imports/{import_id}", api_subscribers.import_status)
    v1.router.add_get("/subscribers/imports/{import_id}/rejects", api_subscribers.import_rejects)
    v1.router.add_get("/mailings/{mailing_id}/progress", api.mailing_progress)
    v1.router.add_post("/mailings/{mailing_id}/pause", api.pause_mailing)
    v1.router.add_post("/mailings/{mailing_id}/resume", api.resume_mailing)
    v1.router.add_post("/mailings/{mailing_id}/cancel", api.cancel_mailing)
    fb = api_feedback  # suppressions, bounces, reports, rates, outbound webhooks
    v1.router.add_get("/suppressions", fb.list_suppressions)
    v1.router.add_post("/suppressions", fb.add_suppression)
    v1.router.add_post("/suppressions/lift", fb.lift_suppression)
    v1.router.add_get("/bounces", fb.list_bounces)
    v1.router.add_get("/bounces/reports", fb.list_reports)
    v1.router.add_get("/bounces/reports/{report_id}", fb.get_report)
    v1.router.add_get("/deliverability", fb.deliverability)
    v1.router.add_get("/hooks", fb.list_hooks)
    v1.router.add_post("/hooks", fb.create_hook)
    v1.router.add_get("/hooks/{endpoint_id}", fb.get_hook)
    v1.router.add_patch("/hooks/{endpoint_id}", fb.update_hook)
    v1.router.add_delete("/hooks/{endpoint_id}", fb.delete_hook)
    v1.router.add_get("/hooks/{endpoint_id}/deliveries", fb.hook_deliveries)
    v1.router.add_post(
        "/hooks/{endpoint_id}/deliveries/{hook_delivery_id}/resend", fb.resend_delivery
    )
    v1.router.add_post("/hooks/{endpoint_id}/resend-failed", fb.resend_failed)
    api_clicks.add_routes(v1.router)  # click counts, per mailing and per item, and CSV
    app.add_subapp("/api/v1", v1)

    # Editors' web console (signed-in editor accounts): mailer/web/console/
    console.add_routes(app)

    if not settings.is_production:
        app.router.add_get("/dev/outbox", outbox.list_page, name="outbox")
        app.router.add_get("/dev/outbox.json", outbox.list_json)
        app.router.add_post("/dev/outbox/clear", outbox.clear)
        app.router.add_get("/dev/outbox/{key}", outbox.message_page, name="outbox_message")
        app.router.add_get("/dev/outbox/{key}/html", outbox.message_html)
        app.router.add_get("/dev/outbox/{key}/text", outbox.message_text)
        app.router.add_get("/dev/outbox/{key}/raw", outbox.message_raw)
        app.router.add_get(DEMO_FEED_PATH, start.demo_feed_xml)
