"""``spoolwatch fleet status``'s wake trigger line, from ``FleetStatus.wake``."""

from __future__ import annotations

import pytest

from spoolwatch.cli.fleet import wake_line

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("armed", "why", "age", "expected"),
    [
        (True, "fleet_idle", 180.0, "[bold]armed[/] (fleet_idle, 3 min ago)"),
        (False, "agents_running", 12.4, "[bold]disarmed[/] (agents_running, 12 s ago)"),
        (False, "breaker_open", 7200.0, "[bold]disarmed[/] (breaker_open, 2 h ago)"),
        (True, "fleet_idle", 3 * 86400.0, "[bold]armed[/] (fleet_idle, 3 d ago)"),
        (True, None, 30.0, "[bold]armed[/] (30 s ago)"),
    ],
)
def test_wake_line_names_the_state_the_reason_and_how_long_ago(
    armed: bool, why: str | None, age: float, expected: str
) -> None:
    line = wake_line({"armed": armed, "changedAt": NOW - age, "why": why}, NOW)
    assert line == f"wake trigger: {expected}"


def test_wake_line_without_a_change_says_the_trigger_is_as_deployed() -> None:
    line = wake_line({"armed": True, "changedAt": None, "why": None}, NOW)
    assert line == "wake trigger: [bold]armed[/] (never switched since deployment)"


def test_wake_line_counts_a_change_stamped_ahead_of_this_clock_as_just_now() -> None:
    line = wake_line({"armed": False, "changedAt": NOW + 5, "why": "agents_running"}, NOW)
    assert line.endswith("(agents_running, 0 s ago)")


def test_wake_line_escapes_markup_in_the_reason() -> None:
    line = wake_line({"armed": False, "changedAt": NOW, "why": "[red]x[/]"}, NOW)
    assert "\\[red]x" in line
