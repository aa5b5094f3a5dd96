"""When a bigger fleet no longer raises the destination's accepted rate."""

from __future__ import annotations

import pytest

from spoolwatch.scaling.ceiling import Throughput, is_flat


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
