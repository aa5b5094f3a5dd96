"""Back-off delays, the stop control, and the bounded memory of delivered ids."""

from __future__ import annotations

import random

from spoolwatch.agent.config import RetryConfig
from spoolwatch.agent.control import StopControl, backoff_delay
from spoolwatch.agent.dedupe import SeenIds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    retry = RetryConfig(initial_seconds=0.5, max_seconds=4, multiplier=2, jitter=0)
    assert [backoff_delay(n, retry) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_backoff_jitter_stays_within_its_spread() -> None:
    retry = RetryConfig(initial_seconds=1, max_seconds=10, jitter=0.25)
    delays = {backoff_delay(1, retry, rng=random.Random(seed)) for seed in range(50)}
    assert min(delays) >= 0.75 and max(delays) <= 1.25 and len(delays) > 10


def test_retry_after_is_a_floor_for_the_delay() -> None:
    retry = RetryConfig(initial_seconds=0.5, jitter=0)
    assert backoff_delay(1, retry, retry_after=12) == 12
    assert backoff_delay(1, retry, retry_after=0.1) == 0.5


def test_stop_gives_grace_then_a_second_stop_gives_up_at_once() -> None:
    clock = FakeClock()
    control = StopControl(grace=10, clock=clock)
    assert not control.stop_requested() and not control.give_up_by(clock.now + 100)
    control.request_stop("signal")
    assert control.stop_requested() and control.reason == "signal"
    assert not control.give_up_by(clock.now + 5) and control.give_up_by(clock.now + 11)
    control.request_stop("signal")
    assert control.give_up_by(clock.now)


def test_deadline_stops_reading_at_the_margin_and_gives_up_at_a_third_of_it() -> None:
    clock = FakeClock()
    remaining = {"s": 60.0}
    control = StopControl(grace=100, deadline=lambda: remaining["s"], margin=9, clock=clock)
    assert not control.stop_requested()
    remaining["s"] = 8
    assert control.stop_requested() and control.reason == "deadline"
    assert not control.give_up_by(clock.now + 4) and control.give_up_by(clock.now + 5.5)


def test_seen_ids_are_bounded_oldest_first() -> None:
    seen = SeenIds(max_ids=3, ttl=100)
    seen.add_all(["a", "b", "c", "d", None])
    assert "a" not in seen and all(x in seen for x in "bcd") and len(seen) == 3


def test_seen_ids_expire_after_their_ttl() -> None:
    clock = FakeClock()
    seen = SeenIds(max_ids=10, ttl=5, clock=clock)
    seen.add_all(["a"])
    clock.now += 3
    seen.add_all(["b"])
    clock.now += 3
    assert "a" not in seen and "b" in seen


def test_seen_ids_can_be_switched_off() -> None:
    seen = SeenIds(max_ids=0)
    seen.add_all(["a"])
    assert "a" not in seen


def test_gc_threshold_is_raised_during_runs_and_restored_after() -> None:
    import gc

    from spoolwatch.agent.loop import _fewer_gc_passes

    before = gc.get_threshold()
    with _fewer_gc_passes():
        with _fewer_gc_passes():
            assert gc.get_threshold()[0] >= 50_000
        assert gc.get_threshold()[0] >= 50_000
    assert gc.get_threshold() == before
