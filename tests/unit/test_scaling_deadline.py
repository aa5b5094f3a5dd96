"""The deadline margin of a Lambda run: as configured, capped at half the time left."""

from __future__ import annotations

import pytest

from spoolwatch.scaling import run_margin


@pytest.mark.parametrize(
    ("configured", "remaining", "margin"),
    [
        (60.0, 899.9, 60.0),  # the agent function of the template: as configured
        (10.0, 29.9, 10.0),  # the wake function of the template: as configured
        (60.0, 30.0, 15.0),  # a 30 s function with the default margin still reads 15 s
        (60.0, 2.0, 1.0),
        (60.0, 0.0, 0.0),
    ],
)
def test_margin_is_capped_at_half_the_time_left(
    configured: float, remaining: float, margin: float
) -> None:
    assert run_margin(configured, remaining) == pytest.approx(margin)
