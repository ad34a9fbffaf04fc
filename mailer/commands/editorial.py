"""The editor and operator commands of the `mailer` CLI (the parser is in cli.py)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from mailer.accounts import api_keys
from mailer.audience import topics
from mailer.commands.watch import format_progress, watch
from mailer.config import Settings
from mailer.delivery import mailings
from mailer.editorial import digests, series
from mailer.errors import InvalidInput
from mailer.runtime.database import open_database


async def api_keys_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "create":
            async with pool.acquire() as conn:
                key_id, key = await api_keys.create_api_key(conn, args.name, args.role)
            print(
                f"API key {key_id} ({args.name.strip()}, {args.role}); "
                "store it now, it is not shown again:"
            )
            print(key)
        elif args.action == "list":
            for row in await api_keys.list_api_keys(pool):
                state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
                used = f"{row['last_used_at']:%Y-%m-%d %H:%M}" if row["last_used_at"] else "never"
                print(
                    f"{row['api_key_id']:>4}  {row['name']:<30} {row['role']:<7}"
                    f" {state:<18} last used {used}"
                )
        else:
            await api_keys.revoke_api_key(pool, args.key_id)
            print(f"API key {args.key_id} revoked")
    return 0


async def mailings_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "watch":
            await watch(pool, args.mailing_id)
            return 0
        if args.action == "pause":
            await mailings.pause(pool, args.mailing_id)
        elif args.action == "resume":
            await mailings.resume(pool, args.mailing_id)
        elif args.action == "cancel":
            await mailings.cancel(pool, args.mailing_id)
        current = await mailings.progress(pool, args.mailing_id)
        if args.action == "progress":
            print(json.dumps(current.as_json(), indent=2))
        else:
            print(format_progress(current))
    return 0


async def topics_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "add":
            topic = await topics.create_topic(
                pool,
                name=args.name,
                slug=args.slug,
                description=args.description,
                public=not args.hidden,
                position=args.position,
            )
            print(f"added topic {topic.slug} ({topic.name})")
        elif args.action == "list":
            for t in await topics.list_topics(pool):
                shown = "public" if t.public else "hidden"
                print(f"{t.position:>4}  {t.slug:<30} {shown:<7} {t.name}")
        elif args.action == "update":
            topic = await topics.update_topic(
                pool,
                args.slug,
                name=args.name,
                description=args.description,
                public=args.public,
                position=args.position,
            )
            print(f"updated topic {topic.slug}")
        else:
            await topics.delete_topic(pool, args.slug)
            print(f"removed topic {args.slug}")
    return 0


def _category_rules(mappings: list[str]) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {}
    for mapping in mappings:
        category, sep, slug = mapping.partition("=")
        if not sep or not category.strip() or not slug.strip():
            raise InvalidInput(f"--map takes CATEGORY=TOPIC, not {mapping!r}")
        rules.setdefault(category.strip(), []).append(slug.strip())
    return rules


def _feed_changes(args: argparse.Namespace) -> dict[str, Any]:
    """`feeds update`'s options as update_source's arguments: only those given."""
    if args.topic and args.no_topics:
        raise InvalidInput("give --topic or --no-topics, not both")
    if args.map and args.no_map:
        raise InvalidInput("give --map or --no-map, not both")
    changes: dict[str, Any] = {}
    if args.url is not None:
        changes["url"] = args.url
    if args.name is not None:
        changes["name"] = args.name
    if args.topic or args.no_topics:
        changes["topics"] = args.topic or []
    if args.map or args.no_map:
        changes["category_rules"] = _category_rules(args.map or [])
    if args.interval is not None:
        changes["poll_interval"] = args.interval
    return changes


async def feeds_command(settings: Settings, args: argparse.Namespace) -> int:
    # Here, not at the top: feedparser and the HTTP client are a fifth of every mailer
    # command's start-up (an import of a few seconds, say), and only this one uses them.
    from mailer.content import feeds
    from mailer.fetch import make_session

    async with open_database(settings) as (pool, _):
        if args.action == "add":
            source = await feeds.create_source(
                pool,
                url=args.url,
                name=args.name,
                topics=args.topic,
                category_rules=_category_rules(args.map),
                poll_interval=args.interval,
            )
            print(f"added feed {source['source_id']}: {source['url']}")
        elif args.action == "update":
            changes = _feed_changes(args)
            if not changes:
                raise InvalidInput(
                    "nothing to change: give --url, --name, --topic, --no-topics, --map, "
                    "--no-map or --interval"
                )
            source = await feeds.update_source(pool, args.source_id, **changes)
            print(f"feed {source['source_id']} updated: {source['url']}")
            if "url" in changes:
                print("the new address is polled at once, afresh; its items update stored ones")
        elif args.action == "list":
            for s in await feeds.list_sources(pool):
                state = "paused" if s["paused"] else f"every {s['poll_interval']}s"
                last = s["last_error"] or s["last_warning"] or f"{s['items_seen']} items"
                polled = s["last_polled_at"] or "never"
                print(f"{s['source_id']:>4}  {s['url']:<50} {state:<14} {polled}  {last}")
        elif args.action in ("pause", "resume"):
            await feeds.update_source(pool, args.source_id, paused=args.action == "pause")
            print(f"feed {args.source_id} {args.action}d")
        elif args.action == "remove":
            await feeds.delete_source(pool, args.source_id)
            print(f"feed {args.source_id} removed")
        else:
            async with make_session(allow_private=settings.feed_allow_private) as session:
                results = await feeds.poll_now(
                    pool,
                    session,
                    args.source_id,
                    allow_private=settings.feed_allow_private,
                    trusted=settings.feed_trusted_urls,
                )
            for r in results:
                outcome = (
                    r.error or f"{r.created} new, {r.updated} updated, {r.unchanged} unchanged"
                )
                print(f"feed {r.source_id}: HTTP {r.status}: {outcome}")
    return 0


async def series_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "add":
            created = await series.create_series(
                pool,
                name=args.name,
                cron=args.cron,
                timezone=args.timezone,
                now=datetime.now(UTC),
                slug=args.slug,
                mode="auto" if args.auto else "draft",
                is_default=args.default,
            )
            slug, upcoming = created["slug"], created["next_run_at"]
            print(f"added series {created['series_id']} ({slug}), next {upcoming}")
        elif args.action == "remove":
            await series.delete_series(pool, args.series_id)
            print(f"removed series {args.series_id}")
        else:
            for row in await series.list_series(pool):
                flags = ", ".join(
                    f for f in (row["mode"], "default" if row["is_default"] else "") if f
                )
                when = f"{row['cron']:<14} {row['timezone']:<20} next {row['next_run_at']}"
                print(f"{row['series_id']:>4}  {row['slug']:<28} {when}  ({flags})")
    return 0


async def digests_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "create":
            mailing_id = await digests.create_digest(
                pool, settings, args.series, now=datetime.now(UTC), subject=args.subject
            )
            print(f"created digest {mailing_id}")
        elif args.action == "list":
            for row in await digests.list_digests(pool, args.status):
                when = row["scheduled_at"] or row["started_at"] or row["created_at"]
                state = f"{row['status']:<10} {row['items']:>3} items"
                print(f"{row['mailing_id']:>5}  {state}  {when:%Y-%m-%d %H:%M}  {row['subject']}")
        elif args.action == "schedule":
            try:
                send_at = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
            except ValueError as exc:
                raise InvalidInput(
                    f"--at takes an ISO time with its zone, not {args.at!r}"
                ) from exc
            await digests.schedule(pool, settings, args.mailing_id, send_at, now=datetime.now(UTC))
            print(f"digest {args.mailing_id} scheduled for {send_at.isoformat()}")
        elif args.action == "send-now":
            count = await digests.start(pool, settings, args.mailing_id)
            print(f"digest {args.mailing_id} is sending to {count} recipients")
        elif args.action == "watch":
            await watch(pool, args.mailing_id)
        elif args.action == "cancel":
            await mailings.cancel(pool, args.mailing_id)
            print(f"digest {args.mailing_id} cancelled")
        else:
            shown = await digests.preview(
                pool, settings, args.mailing_id, subscriber=args.subscriber
            )
            print(f"Subject: {shown['subject']}\n")
            print(shown["text"])
    return 0
