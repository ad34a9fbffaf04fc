"""Telling link scanners and previews from readers, without keeping anything about either.

A click is counted apart (as `filtered`) when it is a HEAD request, comes from a known
scanner or preview agent, comes within seconds of its mailing's send start (security
gateways fetch every link as the mail arrives), or is one of many different links of one
mail requested at once (a scanner opening every link; a person opens one or two)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Substrings of User-Agent headers sent by link scanners, previewers and crawlers, matched
# case-insensitively. Sources: each vendor's published crawler documentation --
#   Microsoft: BingPreview and bingbot (bing.com/webmasters/help/which-crawlers-does-bing-use),
#     Defender for Office 365 Safe Links, which fetches as "Microsoft Office" /
#     "ms-office" (learn.microsoft.com, Safe Links);
#   Google: Googlebot, Google-Safety, GoogleImageProxy (developers.google.com/search/docs/
#     crawling-indexing/overview-google-crawlers);
#   Meta: facebookexternalhit, meta-externalagent (developers.facebook.com/docs/sharing/
#     webmasters/web-crawlers); WhatsApp link previews ("WhatsApp/");
#   Slack: Slackbot-LinkExpanding (api.slack.com/robots); Twitterbot (developer.x.com, Cards);
#     LinkedInBot (linkedin.com/help); TelegramBot; Discordbot; SkypeUriPreview;
#   mail security gateways that rewrite and pre-fetch links: Barracuda, Mimecast, Proofpoint,
#     Cisco IronPort, Trend Micro, Symantec/Broadcom (their admin guides name the agents);
#   plain HTTP libraries and headless browsers nobody reads mail with: curl, Wget,
#     python-requests, python-urllib, aiohttp, Go-http-client, Java/, okhttp, HeadlessChrome,
#     PhantomJS; and the generic words `bot`, `crawler`, `spider`, `preview`, `scanner`.
# An empty User-Agent is a script's too. The list errs on counting a reader apart rather than
# counting a scanner as a reader.
SCANNER_AGENTS = (
    "bingpreview", "bingbot", "microsoft office", "ms-office", "msoffice",
    "googlebot", "google-safety", "googleimageproxy", "feedfetcher-google",
    "facebookexternalhit", "meta-externalagent", "whatsapp", "slackbot", "twitterbot",
    "linkedinbot", "telegrambot", "discordbot", "skypeuripreview", "applebot",
    "barracuda", "mimecast", "proofpoint", "ironport", "trendmicro", "trend micro",
    "symantec", "broadcom", "forcepoint", "sophos", "fireeye", "zscaler",
    "curl/", "wget/", "python-requests", "python-urllib", "aiohttp/", "go-http-client",
    "java/", "okhttp", "headlesschrome", "phantomjs", "bot", "crawler", "spider",
    "preview", "scanner",
)  # fmt: skip
# Matched against the lower-cased header: several times faster than re.IGNORECASE.
_AGENTS = re.compile("|".join(re.escape(a) for a in SCANNER_AGENTS))


def is_scanner_agent(user_agent: str) -> bool:
    return not user_agent.strip() or _AGENTS.search(user_agent.lower()) is not None


BURST_SECONDS = 2.0  # "at once": a scanner fetches a mail's links within a second or two
BURST_LINKS = 3  # different links of one mail in that window: a person opens one or two


@dataclass
class _Burst:
    started: float
    links: set[tuple[int, str]] = field(default_factory=set)
    counted: list[Any] = field(default_factory=list)  # this entry's clicks counted as readers'
    burst: bool = False


class BurstWindow:
    """Many different links of one mail requested at once, from one client.

    The entry's key is a keyed hash (BLAKE2b, a random key made when the process starts and
    never written anywhere) of the client's address, its User-Agent and the mailing: one
    mail's links opened by one client share it, and nothing can turn it back into an address.
    Entries live in memory for `seconds` and are then dropped; nothing of them is stored, so
    this tells nothing about anyone after those seconds (nor across processes: each has its
    own window, so a burst spread over several processes may go unseen)."""

    def __init__(
        self,
        seconds: float = BURST_SECONDS,
        links: int = BURST_LINKS,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.links = links
        self.max_entries = max_entries
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, _Burst] = {}

    def key(self, client: str, user_agent: str, mailing_id: int) -> bytes:
        material = f"{client}\0{user_agent}\0{mailing_id}".encode()
        return hashlib.blake2b(material, key=self._key, digest_size=16).digest()

    def see(self, key: bytes, link: tuple[int, str], counted: Any) -> tuple[bool, list[Any]]:
        """Note one link requested: (whether it is part of a burst, the clicks of this
        client and mail counted as readers' until now, to be counted apart instead).
        `counted` (a count key, or None for a click counted apart anyway) is remembered
        for a click that is not part of a burst."""
        now = self.clock()
        entry = self._entries.get(key)
        if entry is None or now - entry.started > self.seconds:
            if len(self._entries) >= self.max_entries:
                self.prune()
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()  # a flood: forget, rather than grow without end
            entry = self._entries[key] = _Burst(now)
        entry.links.add(link)
        if entry.burst:
            return True, []
        if len(entry.links) >= self.links:
            entry.burst = True
            earlier, entry.counted = entry.counted, []
            return True, earlier
        if counted is not None:
            entry.counted.append(counted)
        return False, []

    def prune(self) -> None:
        """Drop the entries older than the window (called every second or so)."""
        now = self.clock()
        stale = [k for k, e in self._entries.items() if now - e.started > self.seconds]
        for k in stale:
            del self._entries[k]

    def __len__(self) -> int:
        return len(self._entries)
