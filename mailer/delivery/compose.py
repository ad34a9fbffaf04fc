"""From a claimed delivery to the bytes on the wire: compiled message + recipient values."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from mailer.config import Settings
from mailer.db import load_queries
from mailer.delivery import template_versions
from mailer.delivery.click_links import redirects_for
from mailer.delivery.headers import (
    LIST_KINDS,
    UNSUBSCRIBE_LOCAL,
    new_message_id,
    rfc5322_date,
    static_extras,
)
from mailer.delivery.render import CompiledMessage, MessageCompiler, Recipient, TemplateProblem
from mailer.i18n import DEFAULT, N_, language_of, languages, translations
from mailer.models import ClaimedDelivery
from mailer.resources import templates_dir
from mailer.tokens import Purpose, Signer

MQ = load_queries("delivery/mailings")
log = logging.getLogger(__name__)

# Computes extra slot values for one kind of transactional mail (e.g. a confirmation link
# derived from the payload with the secret key, so that no usable token sits in the queue).
SlotProvider = Callable[[ClaimedDelivery], Mapping[str, str]]

_CACHE_SIZE = 32
_PERSONAL_LINKS = frozenset({"preferences_url", "unsubscribe_url"})  # signed per subscriber
# A transactional kind (confirm, welcome) is compiled again after this long, so that a
# template saved in the console is in use within it; a mailing is compiled once.
KIND_TTL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    envelope_from: str
    recipient: str
    data: bytes
    message_id: str
    smtputf8: bool
    stuffed: bool = False  # data is dot-stuffed already, as DATA carries it


def duration_words(seconds: float, language: str = DEFAULT) -> str:
    """'7 days', '36 hours', '1 day', '45 minutes': the largest whole unit that fits, with
    the language's plural rules (the catalog's Plural-Forms)."""
    catalog = translations(language_of(language))
    whole = round(seconds)
    if whole >= 86400 and whole % 86400 == 0:
        count = whole // 86400
        return catalog.ngettext("%(count)s day", "%(count)s days", count) % {"count": count}
    if whole >= 3600 and whole % 3600 == 0:
        count = whole // 3600
        return catalog.ngettext("%(count)s hour", "%(count)s hours", count) % {"count": count}
    count = max(1, round(seconds / 60))
    return catalog.ngettext("%(count)s minute", "%(count)s minutes", count) % {"count": count}


def _ascii_address(address: str) -> tuple[str, bool]:
    """The address as SMTP wants it: an IDNA domain, or (non-ASCII local part) SMTPUTF8."""
    if address.isascii():
        return address, False
    local, _, domain = address.rpartition("@")
    if local.isascii():
        try:
            return f"{local}@{domain.encode('idna').decode('ascii')}", False
        except UnicodeError:
            pass
    return address, True


class Composer:
    """Builds each delivery's message; compiles once per mailing (or transactional kind)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        template_dirs: list[Path] | None = None,
        slot_providers: Mapping[str, SlotProvider] | None = None,
        dkim: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        dirs = template_dirs or [settings.data_dir / "templates", templates_dir()]
        # Versions saved in the console, reloaded into this mapping per compile.
        self.saved: dict[str, str] = {}
        self.compiler = MessageCompiler(dirs, saved=self.saved)
        self.signer = Signer(settings.signing_keys)
        self.slot_providers = dict(slot_providers or {})
        self.dkim = dkim
        self.from_domain = settings.from_address.rpartition("@")[2].rstrip(">").strip()
        # (mailing id or kind, language): compiled once per mailing and language, with
        # when (a kind's entry expires, see KIND_TTL_SECONDS).
        self._cache: OrderedDict[
            tuple[str, int | str, str], tuple[CompiledMessage | TemplateProblem, float]
        ] = OrderedDict()
        self._date_second = -1
        self._date = ""
        # A subscriber's locale tag -> the texts of values_for in its language.
        self._texts: dict[str | None, tuple[str, str, str]] = {}

    def org(self) -> dict[str, Any]:
        s = self.settings
        return {"name": s.organisation, "postal_address": s.postal_address, "base_url": s.base_url}

    def signup_terms(self, language: str = DEFAULT) -> dict[str, str]:
        """What a confirmation mail promises, in words, from the settings in force."""
        s = self.settings
        return {
            "link_lasts": duration_words(s.confirm_ttl_seconds, language),
            "forgotten_after": duration_words(s.pending_purge_days * 86400.0, language),
        }

    async def compiled_for(self, delivery: ClaimedDelivery) -> CompiledMessage:
        preview_of = (delivery.payload or {}).get("preview_of")
        if delivery.mailing_id is None and preview_of is not None:
            # A test send of a draft: compiled afresh, as the draft stands now.
            compiled = await self._compile(delivery, int(preview_of))
            if isinstance(compiled, TemplateProblem):
                raise compiled
            return compiled
        language = language_of(delivery.locale)
        key: tuple[str, int | str, str] = (
            ("mailing", delivery.mailing_id, language)
            if delivery.mailing_id is not None
            else ("kind", delivery.kind, language)
        )
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is None or (key[0] == "kind" and now - cached[1] > KIND_TTL_SECONDS):
            found = await self._compile(delivery)
            self._cache[key] = (found, now)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            found = cached[0]
        if isinstance(found, TemplateProblem):
            raise found
        return found

    async def _compile(
        self, delivery: ClaimedDelivery, preview_of: int | None = None
    ) -> CompiledMessage | TemplateProblem:
        language = language_of(delivery.locale)
        saved = await template_versions.in_force(self.pool)
        context: dict[str, Any] = {
            "org": self.org(),
            "base_url": self.settings.base_url,
            "signup": self.signup_terms(language),
        }
        list_id = None
        mailing_id = delivery.mailing_id or preview_of
        bulk = mailing_id is not None
        if mailing_id is not None:
            mailing = await self.pool.fetchrow(MQ["get_mailing"], mailing_id)
            if mailing is None:
                return TemplateProblem(f"mailing {mailing_id} no longer exists")
            content = mailing["content"]
            # What editors wrote for this language (subject, intro) replaces the English.
            texts = (content.get("texts") or {}).get(language) or {}
            context |= content | texts
            context["subject"] = texts.get("subject") or mailing["subject"]
            if preview_of is not None:
                context["subject"] = f"[Test] {context['subject']}"
            list_id = mailing["list_id"]
            if preview_of is None and self.settings.clicks.redirects:
                # Compiled once per mailing: each link's token is made here, once.
                context["track"] = redirects_for(self.signer, self.settings.base_url, mailing_id)
        kind = delivery.kind

        def attempt(sources: Mapping[str, str]) -> CompiledMessage | TemplateProblem:
            # No await between loading the versions into the compiler and compiling.
            self.use_saved(sources)
            try:
                return self.compile_kind(
                    kind, context, list_id=list_id, mailing_id=mailing_id, bulk=bulk,
                    language=language,
                )  # fmt: skip
            except TemplateProblem as problem:
                return problem  # remembered, so a broken template is not recompiled per row

        compiled = attempt(saved.sources)
        version = saved.versions.get(kind)
        if isinstance(compiled, CompiledMessage) or version is None:
            return compiled
        # The console's version does not compile with this mailing: the mail goes out with
        # the files' template rather than not at all, and the version is marked for editors.
        failure, compiled = compiled, attempt(saved.without(kind))
        log.error(
            "the %s template saved in the console (version %d) does not compile for %s: %s; %s",
            kind,
            version,
            f"mailing {mailing_id}" if mailing_id is not None else "this mail",
            failure,
            "the template from the files was used instead"
            if isinstance(compiled, CompiledMessage)
            else "the files' template does not compile either",
        )
        await template_versions.mark_failed(self.pool, version, str(failure))
        return compiled

    def use_saved(self, sources: Mapping[str, str]) -> None:
        """Put these saved versions ahead of the files for the next compile."""
        if sources != self.saved:
            self.saved.clear()
            self.saved.update(sources)

    def compile_kind(
        self,
        kind: str,
        context: Mapping[str, Any],
        *,
        list_id: str | None,
        mailing_id: int | None,
        bulk: bool,
        language: str = DEFAULT,
    ) -> CompiledMessage:
        """One kind's templates in one language with a context (org and signup terms added)
        and the headers every copy shares; TemplateProblem if the templates are broken."""
        defaults = {
            "org": self.org(),
            "base_url": self.settings.base_url,
            "signup": self.signup_terms(language),
        }
        return self.compiler.in_language(language).compile(
            kind,
            defaults | dict(context),
            sender=self.settings.from_address,
            list_id=list_id,
            bulk=bulk,
            extra=static_extras(
                self.settings,
                kind=kind,
                mailing_id=mailing_id,
                bulk=bulk,
                sender_id=self.from_domain,
            ),
        )

    def forget(self, mailing_id: int) -> None:
        for language in languages():
            self._cache.pop(("mailing", mailing_id, language), None)

    def _now(self) -> str:
        second = int(time.time())
        if second != self._date_second:
            self._date_second, self._date = second, rfc5322_date(second)
        return self._date

    def _texts_for(self, locale: str | None) -> tuple[str, str, str]:
        """The greeting (to fill with a name), the greeting without one, and why they get
        it, in the language of `locale`: the same for every mail in it, so translated once
        (the catalogs and settings do not change while the process runs)."""
        catalog = translations(language_of(locale))
        reason = catalog.gettext(
            N_("You receive this because you subscribed to %(organisation)s news at %(site)s.")
        )
        texts = (
            catalog.gettext(N_("Hello %(name)s,")),
            catalog.gettext(N_("Hello,")),
            reason % {"organisation": self.settings.organisation, "site": self.settings.base_url},
        )
        if len(self._texts) >= _CACHE_SIZE:  # locales are the subscribers' own tags
            self._texts.clear()
        self._texts[locale] = texts
        return texts

    def values_for(self, delivery: ClaimedDelivery, *, links: bool = True) -> dict[str, str]:
        """Slot values: greeting, personal links, why they get it, and the payload's.
        `links=False`: the personal links are not signed (the message uses neither)."""
        base = self.settings.base_url
        texts = self._texts.get(delivery.locale)
        if texts is None:
            texts = self._texts_for(delivery.locale)
        hello, hello_unnamed, reason = texts
        values = {
            "greeting": hello % {"name": delivery.name} if delivery.name else hello_unnamed,
            "email": delivery.recipient,
            "reason": reason,
            "preferences_url": f"{base}/",
            "unsubscribe_url": f"{base}/",
        }
        if links and delivery.subscriber_id is not None and delivery.key_version is not None:
            sign = self.signer.subscriber_token
            values["preferences_url"] = (
                f"{base}/preferences/"
                f"{sign(Purpose.PREFERENCES, delivery.subscriber_id, delivery.key_version)}"
            )
            values["unsubscribe_url"] = (
                f"{base}/unsubscribe/"
                f"{sign(Purpose.UNSUBSCRIBE, delivery.subscriber_id, delivery.key_version)}"
            )
        if delivery.payload:
            values.update({k: str(v) for k, v in delivery.payload.items()})
        provider = self.slot_providers.get(delivery.kind)
        if provider is not None:
            values.update(provider(delivery))
        return values

    async def compose(self, delivery: ClaimedDelivery, *, wire: bool = False) -> Outgoing:
        """The message for one delivery; TemplateProblem if it cannot be built. With `wire`,
        dot-stuffed for SMTP's DATA where it can be (Outgoing.stuffed says whether)."""
        return self.build(await self.compiled_for(delivery), delivery, wire=wire)

    def build(
        self, compiled: CompiledMessage, delivery: ClaimedDelivery, *, wire: bool = False
    ) -> Outgoing:
        """One delivery's copy of a compiled message, signed; TemplateProblem if a value
        the templates need is missing."""
        has_list = delivery.subscriber_id is not None and (
            compiled.bulk or delivery.kind in LIST_KINDS
        )
        # Two MACs a message saved where its templates name neither link (a confirmation's).
        slots = compiled.slots
        links = has_list or not slots.isdisjoint(_PERSONAL_LINKS)
        values = self.values_for(delivery, links=links)
        missing = slots - values.keys()
        if missing:
            raise TemplateProblem(f"template {delivery.kind} needs values for {sorted(missing)}")
        address, smtputf8 = _ascii_address(delivery.recipient)
        envelope_from, unsubscribe_mailto = self.signer.bounce_addresses(
            ("bounces", UNSUBSCRIBE_LOCAL), self.settings.bounce_domain, delivery.delivery_id
        )
        message_id = new_message_id(
            self.settings.secret_key,
            delivery.delivery_id,
            delivery.kind,
            delivery.created_at,
            self.from_domain,
        )
        # Dot-stuffed as it is built, unless a DKIM signature must be made over the message
        # itself (then the connection stuffs it).
        wire = wire and self.dkim is None
        data = compiled.build(
            Recipient(
                address=address,
                name=delivery.name,
                message_id=message_id,
                date=self._now(),
                values=values,
                item_ids=frozenset(delivery.item_ids) if delivery.item_ids is not None else None,
                topic_ids=(
                    frozenset(delivery.topic_ids) if delivery.topic_ids is not None else None
                ),
                unsubscribe_url=values["unsubscribe_url"] if has_list else None,
                unsubscribe_mailto=unsubscribe_mailto,
                text_only=delivery.plain_text_only,
            ),
            wire=wire,
        )
        if self.dkim is not None:
            data = self.dkim(data) + data
        return Outgoing(envelope_from, address, data, f"<{message_id}>", smtputf8, wire)
