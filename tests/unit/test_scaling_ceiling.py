"""When a bigger fleet no longer raises the destination's accepted rate."""

from __future__ import annotations

import pytest

from spoolwatch.scaling import BreakerState, ScalingSettings, decide
from spoolwatch.scaling.ceiling import (
    CEILING_SECONDS,
    LearnedCeiling,
    MemoryCeilingStore,
    Throughput,
    ceiling_cap,
    is_flat,
    learn,
)
from spoolwatch.scaling.session import stop_reason


@pytest.mark.parametrize(
    ("before", "now", "flat"),
    [
        (None, Throughput(4, 100.0), False),  # nothing to compare with
        (Throughput(4, 100.0), Throughput(4, 10.0), False),  # the fleet did not grow
        (Throughput(4, 100.0), Throughput(3, 10.0), False),  # it shrank
        (Throughput(2, 0.0), Throughput(4, 0.0), False),  # nothing accepted before
        (Throughput(2, 100.0), Throughput(4, 100.0), False),  # doubled with the fleet
        (Throughput(2, 100.0), Throughput(4, 76.0), False),  # +52 %: over half of +100 %
        (Throughput(2, 100.0), Throughput(4, 74.0), True),  # +48 %
        (Throughput(2, 100.0), Throughput(4, 50.0), True),  # the same total: flat
        (Throughput(10, 100.0), Throughput(11, 96.0), False),  # +5.6 % for +10 %
        (Throughput(10, 100.0), Throughput(11, 94.0), True),  # +3.4 %
    ],
)
def test_growth_is_flat_below_half_the_rate_it_should_give(
    before: Throughput | None, now: Throughput, flat: bool
) -> None:
    assert is_flat(before, now) is flat


SETTINGS = ScalingSettings(target_concurrency=100, records_per_agent=500)


def test_a_throttled_decision_teaches_the_fleet_it_ran_and_only_when_none_is_fresh() -> None:
    learned = learn("throttled", running=12, known=None, now=1000.0)
    assert learned == LearnedCeiling(12, 1000.0 + CEILING_SECONDS)
    assert learn("throttled", running=5, known=learned, now=1100.0) is None  # still fresh
    later = learn("throttled", running=5, known=learned, now=1000.0 + CEILING_SECONDS)
    assert later == LearnedCeiling(5, 1000.0 + 2 * CEILING_SECONDS)
    assert learn("throttled", running=0, known=None, now=0.0) == LearnedCeiling(1, CEILING_SECONDS)
    for why in (None, "flat", "learned"):
        assert learn(why, running=12, known=None, now=1000.0) is None


def test_a_learned_ceiling_caps_until_it_runs_out() -> None:
    ceiling = LearnedCeiling(8, 500.0)
    assert ceiling_cap(None, 0.0) is None
    assert ceiling_cap(ceiling, 499.9) == 8
    assert ceiling_cap(ceiling, 500.0) is None
    store = MemoryCeilingStore()
    assert store.read() is None
    store.write(ceiling)
    assert (store.read(), store.writes) == (ceiling, 1)


def test_every_decision_wants_at_most_the_learned_ceiling_and_the_surplus_stops() -> None:
    # The schedule's decision on a million records: 100 wanted, 8 allowed.
    capped = decide(10**6, 0, 3, 0, BreakerState.CLOSED, SETTINGS, ceiling=8)
    assert (capped.wanted, capped.recruits, capped.reason, capped.ceiling) == (
        8,
        5,
        "scale_up",
        "learned",
    )
    full = decide(10**6, 0, 8, 0, BreakerState.CLOSED, SETTINGS, saturated=True, ceiling=8)
    assert (full.recruits, full.reason) == (0, "destination_full")
    # Twelve run (recruited before the ceiling was learned): the four on the highest slots stop.
    over = decide(10**6, 0, 12, 0, BreakerState.CLOSED, SETTINGS, ceiling=8)
    slots = list(range(12))
    assert over.wanted == 8
    assert [stop_reason(over, slot, lambda: slots) for slot in (7, 8, 11)] == [
        None,
        "surplus",
        "surplus",
    ]
    # A ceiling above what the backlog wants changes nothing.
    assert decide(1000, 0, 0, 0, BreakerState.CLOSED, SETTINGS, ceiling=8).ceiling is None


@pytest.mark.parametrize("ceiling", [0, -1, True, 2.5])
def test_an_impossible_ceiling_is_refused_by_name(ceiling: object) -> None:
    from spoolwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="ceiling"):
        decide(10, 0, 0, 0, BreakerState.CLOSED, SETTINGS, ceiling=ceiling)  # type: ignore[arg-type]
