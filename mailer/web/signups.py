"""The signup doors' common step: record the signup, then wake the delivery workers."""

from __future__ import annotations

from aiohttp import web

from mailer import keys
from mailer.signup import SignupOutcome, sign_up
from mailer.signup_input import SignupRequest


async def record_signup(
    request: web.Request, signup: SignupRequest, *, allow_hidden: bool = False
) -> SignupOutcome:
    """mailer.signup.sign_up with the app's pool, key and id block; a queued mail wakes
    the workers after the commit (coalesced with other signups' wake-ups)."""
    app = request.app
    outcome = await sign_up(
        app[keys.pool_key],
        app[keys.signer_key],
        app[keys.settings_key],
        signup,
        ids=app[keys.confirmation_ids_key],
        allow_hidden=allow_hidden,
    )
    if outcome.mail_queued:
        app[keys.waker_key].wake()
    return outcome
