"""The spools' back-off: capped exponential delays with jitter, a bounded number of attempts."""

from __future__ import annotations

import random

from spoolwatch.spools.retry import Backoff, attempts


def test_delays_double_from_initial_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.2, cap=1.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_jitter_spreads_a_delay_within_its_fraction() -> None:
    backoff = Backoff(initial=1.0, jitter=0.25)
    delays = {backoff.delay(1, random.Random(seed)) for seed in range(50)}
    assert len(delays) > 1
    assert all(0.75 <= delay <= 1.25 for delay in delays)


def test_attempts_wait_before_each_repeat_and_not_after_the_last() -> None:
    slept: list[float] = []
    numbers = list(attempts(4, Backoff(initial=0.5), sleep=slept.append))
    assert numbers == [1, 2, 3, 4]
    assert slept == [0.5, 1.0, 2.0]


def test_a_success_on_the_first_attempt_waits_for_nothing() -> None:
    slept: list[float] = []
    for attempt in attempts(3, Backoff(initial=0.5), sleep=slept.append):
        assert attempt == 1
        break
    assert slept == []
