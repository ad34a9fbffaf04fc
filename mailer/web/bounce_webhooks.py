"""POST /webhooks/bounce (our generic, signed JSON), /webhooks/bounce/mailgun,
/webhooks/bounce/postmark and /webhooks/bounce/ses (Amazon SNS): check the signature,
parse, take each event in."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from aiohttp import web

from mailer.errors import InvalidInput
from mailer.feedback.intake import Envelope, Intake, keep_report
from mailer.feedback.providers import (
    Item,
    parse_generic,
    parse_mailgun,
    parse_postmark,
    verify_postmark,
)
from mailer.feedback.sns import SnsMessage, read_sns
from mailer.limits import client_ip
from mailer.signatures import HEADER, BadSignature, verify
from mailer.web import keys
from mailer.web.forms import BodyProblem, read_limited
from mailer.web.middleware import error_response

# What a replay (every event already taken) is answered: Mailgun does not retry a 406;
# Postmark has no signature to replay, only ids, and a duplicate is its own retry.
# SNS retries until it gets a 2xx, so a duplicate it sends is answered 200 as well.
_REPLAY_STATUS = {"generic": 409, "mailgun": 406, "postmark": 200, "ses": 200}


# SNS posts its JSON as text/plain.
_CONTENT_TYPES = {False: ("application/json",), True: ("text/plain", "application/json")}


class _Confirmation(Exception):  # not an error: the way out for a confirmation
    def __init__(self, message: SnsMessage) -> None:
        self.message = message


async def generic(request: web.Request) -> web.Response:
    return await _receive(request, "generic")


async def mailgun(request: web.Request) -> web.Response:
    return await _receive(request, "mailgun")


async def postmark(request: web.Request) -> web.Response:
    return await _receive(request, "postmark")


async def ses(request: web.Request) -> web.Response:
    return await _receive(request, "ses")


async def _confirm(request: web.Request, message: SnsMessage, body: bytes, peer: str) -> None:
    """Record an SNS subscription (or unsubscription) confirmation; a subscription to a
    configured topic is confirmed by visiting its (Amazon SNS) SubscribeURL."""
    confirmed = "not visited"
    if message.kind == "SubscriptionConfirmation" and message.subscribe_url:
        try:
            await request.app[keys.sns_fetch_key](message.subscribe_url)
            confirmed = "confirmed"
        except Exception as exc:  # recorded for an editor; SNS resends
            confirmed = f"confirmation failed: {exc!r}"[:300]
    await keep_report(
        request.app[keys.pool_key],
        "ignored",
        "webhook:ses",
        body,
        f"SNS {message.kind} for {message.topic}: {confirmed}",
        Envelope(peer=peer),
    )


async def _items(request: web.Request, provider: str, body: bytes) -> list[Item]:
    settings = request.app[keys.settings_key]
    if provider == "generic":
        header = request.headers.get(HEADER)
        verify(header, body, settings.webhook_secrets)
        signature = next(
            (p.strip()[3:] for p in (header or "").split(",") if p.strip().startswith("v1=")), ""
        )
        return parse_generic(body, signature)
    if provider == "mailgun":
        return parse_mailgun(body, settings.bounces.mailgun_signing_key)
    if provider == "ses":
        message = await read_sns(
            body, settings.bounces.ses_topic_arns, request.app[keys.sns_fetch_key]
        )
        if message.kind != "Notification":
            raise _Confirmation(message)
        return message.items
    verify_postmark(request.headers.get("Authorization"), settings.bounces.postmark_auth)
    return parse_postmark(body)


async def _receive(request: web.Request, provider: str) -> web.Response:
    settings = request.app[keys.settings_key]
    peer = client_ip(request, settings)
    wait = request.app[keys.bounce_limits_key].hit(peer)
    if wait:
        response = error_response(request, 429, "too many bounce webhooks; try again later")
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    try:
        body = await read_limited(request, 1024 * 1024)
        if request.content_type not in _CONTENT_TYPES[provider == "ses"]:
            raise BodyProblem(415, "send application/json")
        items = await _items(request, provider, body)
    except _Confirmation as confirmation:
        await _confirm(request, confirmation.message, body, peer)
        return web.json_response({"reports": [], "confirmation": confirmation.message.kind})
    except BodyProblem as problem:
        return error_response(request, problem.status, str(problem))
    except BadSignature as exc:
        return error_response(request, 401, str(exc))
    except InvalidInput as exc:
        return error_response(request, 400, str(exc), exc.fields)
    intake = Intake(settings, request.app[keys.signer_key])
    forged = {
        f"events[{i}].envelope_from": "not a valid signed bounce address of ours"
        for i, item in enumerate(items)
        if provider == "generic"
        and item.envelope_from
        and intake.verp_delivery(item.envelope_from) is None
    }
    if forged:
        return error_response(request, 400, "invalid bounce event", forged)
    reports: list[dict[str, Any]] = []
    duplicates = 0
    for item in items:
        feedback = replace(item.feedback, delivery_id=intake.verp_delivery(item.envelope_from))
        taken = await intake.take(
            request.app[keys.pool_key],
            feedback,
            item.raw,
            Envelope(mail_from=item.envelope_from, rcpt_to=feedback.recipient, peer=peer),
            receipt=(f"webhook:{provider}", item.receipt),
        )
        if taken is None:
            duplicates += 1
        else:
            reports.append({"report_id": taken.report_id, "status": taken.status})
    if not reports:
        status = _REPLAY_STATUS[provider]
        if status != 200:
            return error_response(request, status, "already received (a replay); nothing done")
    return web.json_response({"reports": reports, "duplicates": duplicates})
