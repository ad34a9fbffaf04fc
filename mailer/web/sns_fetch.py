"""The HTTP client behind the Amazon SES webhook: fetches SNS signing certificates (cached
per URL) and visits subscription-confirmation links. Callers check that each URL is Amazon
SNS's (mailer.feedback.sns) before handing it here; tests put their own fetcher in the
application instead of this one."""

from __future__ import annotations

import aiohttp

MAX_BODY = 64 * 1024
TIMEOUT_SECONDS = 10.0


class SnsFetcher:
    """`await fetcher(url)` -> the body; certificates are kept once fetched."""

    def __init__(self) -> None:
        self.cache: dict[str, bytes] = {}

    async def __call__(self, url: str) -> bytes:
        if url.endswith(".pem") and url in self.cache:
            return self.cache[url]
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            response.raise_for_status()
            body = await response.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise ValueError(f"{url} answered more than {MAX_BODY} bytes")
        if url.endswith(".pem"):
            self.cache[url] = body
        return body
