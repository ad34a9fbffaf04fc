"""Typed keys for what the web application holds."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import jinja2
from aiohttp import web

from mailer.audience.signup_batch import SignupWriter
from mailer.config import Settings
from mailer.feedback.clicks import ClickCounter
from mailer.i18n import Localized
from mailer.limits import SignupLimits, SlidingWindow
from mailer.metrics import Metrics
from mailer.tokens import Signer
from mailer.web.sns_fetch import SnsFetcher

settings_key = web.AppKey("settings", Settings)
pool_key = web.AppKey("pool", asyncpg.Pool)
pages_key = web.AppKey("pages", jinja2.Environment)
# The subscriber pages, one environment per reader language (English is pages_key's).
localized_pages_key = web.AppKey("localized_pages", Localized)
# The language a request's page was shown in: its error page, if any, follows it.
language_key = web.RequestKey("language", str)
migrations_dir_key = web.AppKey("migrations_dir", Path)
metrics_key = web.AppKey("metrics", Metrics)
signer_key = web.AppKey("signer", Signer)
limits_key = web.AppKey("limits", SignupLimits)
bounce_limits_key = web.AppKey("bounce_limits", SlidingWindow)
# Fetches SNS certificates and confirmation links (tests replace it: no internet).
sns_fetch_key = web.AppKey("sns_fetch", SnsFetcher)
signups_key = web.AppKey("signups", SignupWriter)
# Click counts of redirect links, gathered in memory and written every second.
clicks_key = web.AppKey("clicks", ClickCounter)
