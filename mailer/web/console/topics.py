"""Topics (admin): list with subscriber counts, add, edit, remove after a confirmation."""

from __future__ import annotations

from typing import TypedDict

from aiohttp import web

from mailer.audience import topics
from mailer.editorial import counts as console_admin
from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.web import keys
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import render
from mailer.web.console.session import admin_only

POSITION_RANGE = (-100_000, 100_000)


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/topics", topics_page)
    r.add_post("/topics", create_topic)
    r.add_get("/topics/{slug}", topic_page)
    r.add_post("/topics/{slug}", save_topic)
    r.add_get("/topics/{slug}/remove", remove_page)
    r.add_post("/topics/{slug}/remove", remove_topic)


async def _topic(request: web.Request) -> topics.Topic:
    slug = request.match_info["slug"]
    found = {t.slug: t for t in await topics.list_topics(request.app[keys.pool_key])}
    if slug not in found:
        raise NotFound(f"there is no topic {slug[:64]!r}")
    return found[slug]


def _values(topic: topics.Topic) -> dict[str, object]:
    return {
        "name": topic.name,
        "description": topic.description,
        "public": topic.public,
        "position": str(topic.position),
    }


class TopicFields(TypedDict):
    name: str
    description: str
    public: bool
    position: int


def _read(form: FormInput) -> TopicFields:
    return {
        "name": form.text("name", label="The name", required=True, max_length=100),
        "description": form.text("description", label="The description", max_length=1000),
        "public": form.checkbox("public"),
        "position": form.integer(
            "position", label="The position", minimum=POSITION_RANGE[0],
            maximum=POSITION_RANGE[1], default=0,
        ),
    }  # fmt: skip


def _done(request: web.Request) -> tuple[str, str] | None:
    """What the last change was ("added", "removed") and to which slug, from the redirect."""
    done, slug = request.query.get("done", ""), request.query.get("name", "")
    if done in ("added", "removed") and topics.SLUG.match(slug):
        return done, slug
    return None


@admin_only
async def topics_page(request: web.Request, *, form: FormInput | None = None) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    return render(
        request,
        "console/topics.html",
        status=status_of(form),
        title="Topics",
        topics=await topics.list_topics(pool),
        counts=await console_admin.topic_counts(pool),
        form=form or FormInput.prefilled({"public": True, "position": "0"}),
        done=_done(request),
    )


@admin_only
async def create_topic(request: web.Request) -> web.StreamResponse:
    form = await FormInput.read(request)
    fields = _read(form)
    slug = form.text("slug", label="The short name", max_length=63) or None
    if slug is not None and not topics.SLUG.match(slug):
        form.fail("slug", "Lower-case letters, digits and dashes, starting with a letter or digit.")
    if form.ok:
        try:
            topic = await topics.create_topic(request.app[keys.pool_key], slug=slug, **fields)
        except Conflict:
            taken = slug or topics.slug_for(fields["name"])
            form.conflict("slug" if slug else "name",
                          f"A topic with the short name '{taken}' exists already: choose "
                          "another name or short name.")  # fmt: skip
        except InvalidInput as exc:
            form.refused(exc, field="slug" if slug else "name")
        else:
            raise web.HTTPSeeOther(f"/console/topics?done=added&name={topic.slug}")
    return await topics_page(request, form=form)


@admin_only
async def topic_page(request: web.Request, *, form: FormInput | None = None) -> web.StreamResponse:
    topic = await _topic(request)
    counts = await console_admin.topic_counts(request.app[keys.pool_key], topic.topic_id)
    return render(
        request,
        "console/topic.html",
        status=status_of(form),
        title=f"Topic: {topic.name}",
        topic=topic,
        count=counts.get(topic.topic_id, console_admin.TopicCount()),
        form=form or FormInput.prefilled(_values(topic)),
        saved=request.query.get("saved") == "1",
    )


@admin_only
async def save_topic(request: web.Request) -> web.StreamResponse:
    topic = await _topic(request)
    form = await FormInput.read(request)
    fields = _read(form)
    if form.ok:
        try:
            await topics.update_topic(request.app[keys.pool_key], topic.slug, **fields)
        except (InvalidInput, Conflict) as exc:
            form.refused(exc, field="name")
        else:
            raise web.HTTPSeeOther(f"/console/topics/{topic.slug}?saved=1")
    return await topic_page(request, form=form)


@admin_only
async def remove_page(request: web.Request) -> web.StreamResponse:
    topic = await _topic(request)
    pool = request.app[keys.pool_key]
    counts = await console_admin.topic_counts(pool, topic.topic_id)
    return render(
        request,
        "console/topic_remove.html",
        title=f"Remove {topic.name}?",
        topic=topic,
        count=counts.get(topic.topic_id, console_admin.TopicCount()),
        usage=await console_admin.topic_usage(pool, topic.slug, topic.topic_id),
    )


@admin_only
async def remove_topic(request: web.Request) -> web.StreamResponse:
    topic = await _topic(request)
    await topics.delete_topic(request.app[keys.pool_key], topic.slug)
    raise web.HTTPSeeOther(f"/console/topics?done=removed&name={topic.slug}")
