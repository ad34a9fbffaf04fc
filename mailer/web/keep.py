"""The re-permission mail's "Yes, keep me subscribed" link: GET shows one button (a link
scanner opening the mail must not answer for the reader), POST records the yes."""

from __future__ import annotations

from aiohttp import web

from mailer.audience.preferences import Subscriber, load_subscriber
from mailer.editorial import repermission
from mailer.editorial.repermission import Answer
from mailer.errors import NotFound
from mailer.i18n import N_
from mailer.tokens import InvalidToken
from mailer.web import keys
from mailer.web.preferences import _context, _links
from mailer.web.public import render


async def _reader(request: web.Request) -> tuple[int, Subscriber]:
    """(mailing_id, subscriber) the link names; 404 if forged or outdated."""
    token = request.match_info["token"]
    try:
        mailing_id, subscriber_id, key_version = repermission.read_keep_token(
            request.app[keys.signer_key], token
        )
    except InvalidToken as exc:
        raise NotFound(
            N_("This link is not valid. Please use the link in one of our mails.")
        ) from exc
    subscriber = await load_subscriber(request.app[keys.pool_key], subscriber_id)
    if subscriber is None or subscriber.key_version != key_version:
        raise NotFound(N_("This link no longer works. The links in our newest mail do."))
    return mailing_id, subscriber


def _page(request: web.Request, subscriber: Subscriber, answer: Answer | None) -> web.Response:
    title = N_("Do you still want our mail?") if answer is None else N_("Thank you")
    if answer == Answer.NOT_ACTIVE:
        title = N_("You are not subscribed")
    response = render(
        request,
        "web/keep.html",
        language=subscriber.locale,
        title=title,
        answer=answer.value if answer else "",
        subscriber=subscriber,
        links=_links(request, subscriber),
        action=f"/keep/{request.match_info['token']}",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def keep_page(request: web.Request) -> web.Response:
    mailing_id, subscriber = await _reader(request)
    answer = await repermission.current_answer(
        request.app[keys.pool_key], mailing_id, subscriber.subscriber_id
    )
    if answer == Answer.NOT_ASKED:
        raise NotFound(N_("This link is not valid. Please use the link in one of our mails."))
    return _page(request, subscriber, answer)


async def keep_post(request: web.Request) -> web.Response:
    mailing_id, subscriber = await _reader(request)
    answer = await repermission.answer_yes(
        request.app[keys.pool_key],
        mailing_id,
        subscriber.subscriber_id,
        _context(request, "re-permission mail"),
    )
    if answer == Answer.NOT_ASKED:
        raise NotFound(N_("This link is not valid. Please use the link in one of our mails."))
    return _page(request, subscriber, answer)
