"""Redirect links for the items in bulk mail: made once per mailing, never per recipient."""

from __future__ import annotations

from collections.abc import Callable

from mailer.tokens import MAX_CLICK_URL, Signer

# A template's `track(url, item_id)`: the link as it goes into the mail.
Track = Callable[..., str]


def plain(url: str, item_id: int | None = None) -> str:
    """Links as they are: previews, test sends, transactional mail, redirects turned off."""
    return url


def redirects_for(signer: Signer, base_url: str, mailing_id: int) -> Track:
    """`track` for one mailing: an item's http(s) link becomes `/r/{token}` where the token
    is signed and carries the mailing, the item and the target. Called while the mailing's
    templates are compiled, so each link is encoded once for all its recipients."""
    made: dict[tuple[str, int], str] = {}

    def track(url: str, item_id: int | None = None) -> str:
        if item_id is None or not url.startswith(("https://", "http://")):
            return url
        if len(url.encode()) > MAX_CLICK_URL:
            return url
        key = (url, int(item_id))
        found = made.get(key)
        if found is None:
            token = signer.click_token(mailing_id, int(item_id), url)
            found = made[key] = f"{base_url}/r/{token}"
        return found

    return track
