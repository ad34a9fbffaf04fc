"""The per-domain throttle with a clock the test moves: groups, rates, connections, pauses."""

from __future__ import annotations

import pytest

from mailer.delivery.throttle import SWEEP_AT, Limit, Throttle, group_of, parse_limit


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_groups() -> None:
    assert group_of("a@gmail.com") == group_of("b@GoogleMail.com") == ("gmail", "gmail")
    assert group_of("a@yahoo.co.uk")[0] == group_of("a@aol.com")[0] == "yahoo"
    assert group_of("a@hotmail.fr")[0] == group_of("a@live.com")[0] == "microsoft"
    assert group_of("a@example.org") == ("other", "other:example.org")
    assert parse_limit("600/5") == Limit(600, 5) and parse_limit("0") == Limit()
    with pytest.raises(ValueError, match="invalid literal"):
        parse_limit("fast")


def test_rate_reserves_spread_out_slots_per_group() -> None:
    clock = Clock()
    throttle = Throttle({"gmail": Limit(per_minute=60)}, clock=clock)
    assert throttle.admit("a@gmail.com") == 0.0
    throttle.done("a@gmail.com")
    waits = [throttle.admit(f"{i}@gmail.com") for i in range(3)]
    assert waits == [1.0, 2.0, 3.0]  # one a second, each deferred to its own slot
    assert throttle.admit("x@example.org") == 0.0  # other domains: no limit, no wait
    clock.now += 10
    assert throttle.admit("b@gmail.com") == 0.0


def test_connections_and_the_deferral_pause() -> None:
    clock = Clock()
    throttle = Throttle({"other": Limit(connections=2)}, clock=clock)
    assert throttle.admit("a@example.org") == throttle.admit("b@example.org") == 0.0
    assert throttle.admit("c@example.org") > 0  # two in flight already
    assert throttle.admit("c@example.net") == 0.0  # another domain: its own count
    throttle.done("a@example.org")
    assert throttle.admit("c@example.org") == 0.0
    throttle.failed("a@example.org", 421, "4.7.0", "recipient")
    assert throttle.admit("d@example.org") == pytest.approx(30.0)
    assert throttle.admit("d@example.net") == 0.0
    throttle.failed("a@example.org", 451, "4.7.1", "data")  # again: twice as long
    assert throttle.paused("d@example.org") == pytest.approx(60.0)
    throttle.failed("a@example.net", 421, None, "connection")  # the relay, not the domain
    assert throttle.paused("a@example.net") == 0.0


def test_buckets_stay_bounded_over_many_domains_and_keep_what_matters() -> None:
    # One bucket per receiving domain outside the big providers: 20,000 domains must not
    # leave 20,000 buckets in a long-lived worker (they did: nothing ever removed one).
    clock = Clock()
    throttle = Throttle({"other": Limit(per_minute=600, connections=2)}, clock=clock)
    assert throttle.admit("a@busy.example") == 0.0  # in flight while the rest go by
    throttle.failed("x@paused.example", 421, "4.7.0", "recipient")
    largest = 0
    for i in range(20_000):
        recipient = f"reader@domain{i}.example"
        assert throttle.admit(recipient) == 0.0
        throttle.done(recipient)
        clock.now += 0.001
        largest = max(largest, len(throttle.buckets))
    assert largest <= SWEEP_AT
    # What the sweeps kept: the send in flight, the pause, and a back-off that doubles.
    assert throttle.buckets["other:busy.example"].in_flight == 1
    assert 0 < throttle.paused("x@paused.example") < 30.0
    clock.now += 30.0
    throttle.failed("x@paused.example", 421, "4.7.0", "recipient")
    assert throttle.paused("x@paused.example") == 60.0
    # A domain's reserved slot is kept too (here every domain has one: the clock stands
    # still), so its next message still waits its turn.
    assert throttle.admit("b@slow.example") == 0.0
    throttle.done("b@slow.example")
    for i in range(2 * SWEEP_AT):
        throttle.admit(f"r@again{i}.example")
        throttle.done(f"r@again{i}.example")
    assert throttle.admit("c@slow.example") == pytest.approx(0.1)
