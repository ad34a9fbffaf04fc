"""Small shared test helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]
