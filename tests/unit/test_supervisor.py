"""Restarting extra worker processes: quickly after a good run, backing off in a crash loop."""

from mailer.runtime.supervisor import restart_delay


def test_a_crash_loop_backs_off_to_a_minute() -> None:
    delays = []
    delay = 0.0
    for _ in range(9):
        delay = restart_delay(delay, ran_for=0.5)
        delays.append(delay)
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_child_that_ran_a_while_is_restarted_at_once_again() -> None:
    assert restart_delay(60.0, ran_for=3600) == 1.0
    assert restart_delay(8.0, ran_for=59) == 16.0
