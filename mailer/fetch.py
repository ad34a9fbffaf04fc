"""Fetching feeds safely: conditional GET, size and time limits, few redirects, and no
requests to loopback or private networks unless configured (no SSRF through a feed URL)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from mailer.errors import MailerError

MAX_BODY = 5 * 1024 * 1024
MAX_REDIRECTS = 3
TIMEOUT_SECONDS = 20.0
USER_AGENT = "mailer-feed-reader/0.1 (+newsletter digests)"


class FetchError(MailerError):
    """The feed could not be fetched; the message says why, for the editors."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class PrivateAddress(OSError):
    """A host that resolves only to addresses feeds may not reach."""


def forbidden_address(address: str) -> bool:
    """Loopback, private, link-local, reserved or multicast: not for requests we make."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class PublicOnlyResolver(AbstractResolver):
    """Resolves names, then refuses addresses that are not public: checked when connecting,
    so a DNS answer that changes between check and use (rebinding) cannot slip through."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        allowed = [r for r in results if not forbidden_address(r["host"])]
        if not allowed:
            raise PrivateAddress(f"{host} resolves only to private or loopback addresses")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


@dataclass(frozen=True)
class Fetched:
    status: int  # 200, or 304 when unchanged
    body: bytes
    content_type: str
    url: str  # after redirects
    etag: str | None
    last_modified: str | None


def check_url(url: str, *, allow_private: bool, trusted: Collection[str] = ()) -> None:
    """Refuse what no feed may be fetched from. `trusted` lists exact URLs on a literal
    loopback or private address that are fetched anyway (the demo feed a development
    instance serves itself); a host name still goes through the resolver's check."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"only http and https feeds can be read, not {parts.scheme or 'this'}")
    if not parts.hostname:
        raise FetchError("the feed URL names no host")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    if not allow_private and url not in trusted and forbidden_address(str(literal)):
        raise FetchError("the feed URL points to a private or loopback address")


def make_session(*, allow_private: bool, timeout: float = TIMEOUT_SECONDS) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        resolver=None if allow_private else PublicOnlyResolver(), limit=20, ttl_dns_cache=60
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10)),
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        auto_decompress=True,
    )


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    allow_private: bool = False,
    trusted: Collection[str] = (),
    max_body: int = MAX_BODY,
) -> Fetched:
    """GET with conditional headers; follows at most MAX_REDIRECTS, checking each hop."""
    headers: dict[str, Any] = {
        "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
        "application/json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url(current, allow_private=allow_private, trusted=trusted)
        try:
            async with session.get(current, headers=headers, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError("a redirect without a Location", response.status)
                    current = urljoin(current, location)
                    continue
                if response.status == 304:
                    return Fetched(304, b"", "", current, etag, last_modified)
                if response.status != 200:
                    raise FetchError(f"the server answered HTTP {response.status}", response.status)
                body = await _read(response, max_body)
                return Fetched(
                    status=200,
                    body=body,
                    content_type=response.content_type,
                    url=current,
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                )
        except TimeoutError as exc:
            raise FetchError("the server did not answer in time") from exc
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, PrivateAddress):
                raise FetchError(
                    f"the feed URL points to a private or loopback address ({exc.os_error})"
                ) from exc
            raise FetchError(f"cannot connect to {exc.host}:{exc.port}") from exc
        except aiohttp.ClientError as exc:
            raise FetchError(f"cannot fetch the feed: {exc}") from exc
        except OSError as exc:
            raise FetchError(f"cannot fetch the feed: {exc.strerror or exc}") from exc
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


async def _read(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The (decompressed) body, refusing as soon as it passes `limit`: a 2 GB answer or a
    gzip bomb costs at most `limit` bytes of memory."""
    if response.content_length is not None and response.content_length > limit:
        raise FetchError(f"the feed is larger than {limit // (1024 * 1024)} MB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise FetchError(f"the feed is larger than {limit // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)
