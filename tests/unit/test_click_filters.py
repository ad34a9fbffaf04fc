"""The pieces of click counting that need nothing running: tokens, scanner agents, the burst
window, and the differential-privacy noise."""

from __future__ import annotations

import math
import statistics

import pytest

from mailer.delivery.click_links import plain, redirects_for
from mailer.feedback.noise import Publisher
from mailer.feedback.scanners import BurstWindow, is_scanner_agent
from mailer.tokens import InvalidToken, Purpose, Signer

KEY = "a-secret-key-for-tests-0123456789"


def test_click_tokens_carry_mailing_item_and_target_and_survive_a_key_rotation() -> None:
    old = Signer(KEY)
    token = old.click_token(12, 40, "https://news.example.org/story?a=1&b=é")
    assert old.read_click_token(token) == (12, 40, "https://news.example.org/story?a=1&b=é")
    rotated = Signer(["a-new-key-for-tests-0123456789ab", KEY])
    assert rotated.read_click_token(token)[0] == 12  # mail sent before the rotation
    with pytest.raises(InvalidToken):
        Signer("someone-elses-key-0123456789abcd").read_click_token(token)
    with pytest.raises(InvalidToken):  # a token for another purpose is not a click token
        old.read_click_token(old.sign_blob(Purpose.CURSOR, b"\0" * 16 + b"https://x.org/"))
    with pytest.raises(InvalidToken):
        old.read_click_token(token[:-1] + ("A" if token[-1] != "A" else "B"))


def test_a_mailings_links_are_made_once_and_only_for_web_links_of_items() -> None:
    track = redirects_for(Signer(KEY), "https://news.example.org", 7)
    first = track("https://news.example.org/a", 3)
    assert (
        first.startswith("https://news.example.org/r/")
        and track("https://news.example.org/a", 3) is first
    )
    assert track("mailto:x@example.org", 3) == "mailto:x@example.org"
    assert track("https://news.example.org/a") == "https://news.example.org/a"  # no item
    assert track("https://x.org/" + "a" * 3000, 3).startswith("https://x.org/")  # too long
    assert plain("https://news.example.org/a", 3) == "https://news.example.org/a"


@pytest.mark.parametrize(
    ("agent", "scanner"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36", False),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148", False),
        ("Mozilla/5.0 (compatible; BingPreview/1.0b)", True),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", True),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", True),
        ("python-requests/2.32", True),
        ("Mozilla/5.0 HeadlessChrome/131.0", True),
        ("", True),
    ],
)  # fmt: skip
def test_scanner_agents(agent: str, scanner: bool) -> None:
    assert is_scanner_agent(agent) is scanner


def test_many_links_of_one_mail_at_once_are_a_burst_and_the_first_ones_move_with_it() -> None:
    now = [0.0]
    window = BurstWindow(seconds=2.0, links=3, clock=lambda: now[0])
    key = window.key("198.51.100.4", "Mozilla/5.0", 9)
    assert key != window.key("198.51.100.4", "Mozilla/5.0", 10)  # another mail
    assert key != BurstWindow().key("198.51.100.4", "Mozilla/5.0", 9)  # another process's salt
    assert window.see(key, (1, "a"), "k1") == (False, [])
    assert window.see(key, (1, "a"), "k1b") == (False, [])  # the same link again: no burst
    assert window.see(key, (2, "b"), "k2") == (False, [])
    assert window.see(key, (3, "c"), "k3") == (True, ["k1", "k1b", "k2"])
    assert window.see(key, (4, "d"), "k4") == (True, [])
    now[0] = 5.0  # later: a reader coming back is a reader
    assert window.see(key, (1, "a"), "k5") == (False, [])
    now[0] = 10.0
    window.prune()
    assert len(window) == 0  # nothing kept past the window


def test_noise_is_laplace_deterministic_per_figure_and_off_without_epsilon() -> None:
    exact = Publisher("server-secret", None)
    assert exact.figure("mailing:1:clicks", 12) == 12 and exact.describe() is None
    noisy = Publisher("server-secret", 0.5)
    assert noisy.figure("mailing:1:clicks", 12) == noisy.figure("mailing:1:clicks", 12)
    assert Publisher("other-secret", 0.5).noise("k", 12) != noisy.noise("k", 12)
    draws = [noisy.noise(f"figure:{i}", 12) for i in range(20_000)]
    # Laplace(0, b) with b = 1/epsilon = 2: mean 0, mean absolute deviation b.
    assert abs(statistics.fmean(draws)) < 0.1
    assert statistics.fmean(abs(d) for d in draws) == pytest.approx(2.0, rel=0.05)
    within = sum(abs(d) <= 2.0 * math.log(20) for d in draws) / len(draws)
    assert within == pytest.approx(0.95, abs=0.01)
    assert all(noisy.figure(f"f:{i}", 0) >= 0 for i in range(200))
