"""The per-kind values that transactional mails need beyond the standard slots."""

from __future__ import annotations

from mailer.audience.signup import confirm_slots
from mailer.config import Settings
from mailer.delivery.compose import SlotProvider
from mailer.editorial.alerts import alert_slots
from mailer.editorial.repermission import keep_slots
from mailer.tokens import Signer


def standard_slot_providers(settings: Settings) -> dict[str, SlotProvider]:
    signer = Signer(settings.signing_keys)
    return {
        "confirm": confirm_slots(signer, settings),
        "alert": alert_slots(signer, settings),
        "repermission": keep_slots(signer, settings),
    }
