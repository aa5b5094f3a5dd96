"""The scaling policy's rules, one table row per rule and edge."""

from __future__ import annotations

import json

import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.scaling import BreakerDecision, BreakerState, ScalingSettings, decide

SETTINGS = ScalingSettings(target_concurrency=10, records_per_agent=500)
CLOSED = BreakerState.CLOSED
OPEN = BreakerState.OPEN
HALF = BreakerState.HALF_OPEN

# (scenario, visible, in_flight, running, pending, breaker, recruits, reason)
RULES = [
    ("empty backlog recruits nobody", 0, 0, 0, 0, CLOSED, 0, "empty_backlog"),
    ("one record wants one agent", 1, 0, 0, 0, CLOSED, 1, "scale_up"),
    ("exactly one agent's share wants one", 500, 0, 0, 0, CLOSED, 1, "scale_up"),
    ("one over one agent's share wants two", 501, 0, 0, 0, CLOSED, 2, "scale_up"),
    ("in-flight records count as backlog", 0, 1200, 0, 0, CLOSED, 3, "scale_up"),
    ("visible and in flight add up", 700, 800, 0, 0, CLOSED, 3, "scale_up"),
    ("running agents are subtracted", 2000, 0, 1, 0, CLOSED, 3, "scale_up"),
    ("pending recruits are subtracted", 2000, 0, 0, 3, CLOSED, 1, "scale_up"),
    ("running and pending together", 2000, 0, 2, 2, CLOSED, 0, "enough_agents"),
    ("more agents than wanted recruits nobody", 100, 0, 4, 0, CLOSED, 0, "enough_agents"),
    ("huge backlog is capped at target", 1_000_000, 0, 0, 0, CLOSED, 10, "scale_up"),
    ("cap counts running and pending", 1_000_000, 0, 4, 3, CLOSED, 3, "scale_up"),
    ("at target recruits nobody", 1_000_000, 0, 10, 0, CLOSED, 0, "enough_agents"),
    ("over target (stale count) recruits nobody", 1_000_000, 0, 8, 5, CLOSED, 0, "enough_agents"),
    ("open breaker recruits nobody", 1_000_000, 0, 0, 0, OPEN, 0, "breaker_open"),
    ("open breaker wins over empty backlog", 0, 0, 0, 0, OPEN, 0, "breaker_open"),
    ("half-open recruits one probe", 1_000_000, 0, 0, 0, HALF, 1, "probe"),
    ("half-open with a running agent recruits none", 1_000_000, 0, 1, 0, HALF, 0, "probe_running"),
    ("half-open with a pending recruit recruits none", 5000, 0, 0, 1, HALF, 0, "probe_running"),
    ("half-open with empty backlog recruits none", 0, 0, 0, 0, HALF, 0, "empty_backlog"),
]


@pytest.mark.parametrize(
    ("visible", "in_flight", "running", "pending", "breaker", "recruits", "reason"),
    [row[1:] for row in RULES],
    ids=[row[0] for row in RULES],
)
def test_decide_rule(
    visible: int,
    in_flight: int,
    running: int,
    pending: int,
    breaker: BreakerState,
    recruits: int,
    reason: str,
) -> None:
    decision = decide(visible, in_flight, running, pending, breaker, SETTINGS)
    assert (decision.recruits, decision.reason) == (recruits, reason)


def test_decide_never_exceeds_target_for_any_inputs() -> None:
    settings = ScalingSettings(target_concurrency=4, records_per_agent=10)
    for backlog in (0, 1, 9, 10, 11, 39, 40, 41, 10_000):
        for running in range(7):
            for pending in range(7):
                d = decide(backlog, 0, running, pending, CLOSED, settings)
                assert d.recruits >= 0
                if d.recruits:
                    assert running + pending + d.recruits <= settings.target_concurrency
                    assert running + pending + d.recruits == d.wanted


def test_decision_refused_by_half_open_breaker_recruits_nobody() -> None:
    gate = BreakerDecision(allowed=False, probe=False, state=HALF, probe_holder="other")
    d = decide(5000, 0, 0, 0, gate, SETTINGS)
    assert (d.recruits, d.reason) == (0, "probe_in_flight")


def test_decision_when_caller_is_the_probe_recruits_nobody() -> None:
    gate = BreakerDecision(allowed=True, probe=True, state=HALF, probe_holder="me")
    d = decide(5000, 0, 0, 0, gate, SETTINGS)
    assert (d.recruits, d.reason) == (0, "probe_running")


def test_decision_with_allowing_closed_gate_scales_up() -> None:
    gate = BreakerDecision(allowed=True, probe=False, state=CLOSED)
    assert decide(5000, 0, 1, 0, gate, SETTINGS).recruits == 9


def test_decision_keeps_its_inputs_and_logs_as_one_json_line() -> None:
    d = decide(700, 300, 1, 0, CLOSED, SETTINGS)
    assert (d.visible, d.in_flight, d.running, d.pending) == (700, 300, 1, 0)
    assert (d.backlog, d.wanted, d.recruits) == (1000, 2, 1)
    line = json.loads(json.dumps(d.as_log()))
    assert line["event"] == "scaling_decision"
    assert line["breaker"] == "closed"
    assert line["recruits"] == 1
    assert line["target_concurrency"] == 10


@pytest.mark.parametrize("field", ["visible", "in_flight", "running", "pending"])
def test_decide_rejects_negative_counts_naming_the_argument(field: str) -> None:
    args = {"visible": 1, "in_flight": 0, "running": 0, "pending": 0}
    args[field] = -1
    with pytest.raises(ConfigError, match=field):
        decide(**args, breaker=CLOSED, settings=SETTINGS)


# (scenario, visible, in_flight, running, pending, breaker, recruits, reason)
SATURATED_RULES = [
    ("full read on lagging zero counts wants two", 0, 0, 0, 0, CLOSED, 2, "scale_up"),
    ("one running agent with a full read doubles", 0, 0, 1, 0, CLOSED, 1, "scale_up"),
    ("doubling counts pending recruits", 0, 0, 3, 2, CLOSED, 1, "scale_up"),
    ("doubling stops at the target", 0, 0, 8, 0, CLOSED, 2, "scale_up"),
    ("at the target a full read recruits nobody", 0, 0, 10, 0, CLOSED, 0, "enough_agents"),
    ("counts above the doubling win", 1_000_000, 0, 1, 0, CLOSED, 9, "scale_up"),
    ("open breaker still recruits nobody", 0, 0, 1, 0, OPEN, 0, "breaker_open"),
    ("half-open still recruits one probe", 0, 0, 0, 0, HALF, 1, "probe"),
    ("half-open with a running agent recruits none", 0, 0, 1, 0, HALF, 0, "probe_running"),
]


@pytest.mark.parametrize(
    ("visible", "in_flight", "running", "pending", "breaker", "recruits", "reason"),
    [row[1:] for row in SATURATED_RULES],
    ids=[row[0] for row in SATURATED_RULES],
)
def test_decide_full_reads_rule(
    visible: int,
    in_flight: int,
    running: int,
    pending: int,
    breaker: BreakerState,
    recruits: int,
    reason: str,
) -> None:
    decision = decide(visible, in_flight, running, pending, breaker, SETTINGS, saturated=True)
    assert (decision.recruits, decision.reason) == (recruits, reason)
    assert decision.saturated is True


def test_full_reads_double_the_fleet_each_round_until_the_target() -> None:
    running, rounds = 1, 0
    while running < SETTINGS.target_concurrency:
        recruits = decide(0, 0, running, 0, CLOSED, SETTINGS, saturated=True).recruits
        assert recruits >= 1
        running += recruits
        rounds += 1
    assert running == SETTINGS.target_concurrency
    assert rounds == 4  # 1 -> 2 -> 4 -> 8 -> 10


def test_an_unsaturated_decision_on_zero_counts_stays_empty() -> None:
    decision = decide(0, 0, 1, 0, CLOSED, SETTINGS)
    assert (decision.recruits, decision.reason, decision.saturated) == (0, "empty_backlog", False)


# --- rule 7: the destination's ceiling -------------------------------------------------------


def test_a_throttled_caller_recruits_nobody_where_it_would_have_grown_the_fleet() -> None:
    free = decide(1_000_000, 0, 3, 0, CLOSED, SETTINGS)
    assert (free.recruits, free.reason, free.ceiling) == (7, "scale_up", None)
    held = decide(1_000_000, 0, 3, 0, CLOSED, SETTINGS, throttled=True)
    assert (held.recruits, held.reason, held.ceiling, held.wanted) == (
        0,
        "destination_full",
        "throttled",
        3,
    )


def test_a_throttled_caller_does_not_double_on_a_full_read() -> None:
    held = decide(0, 0, 4, 0, CLOSED, SETTINGS, saturated=True, throttled=True)
    assert (held.recruits, held.reason, held.wanted) == (0, "destination_full", 4)


def test_throttling_leaves_enough_agents_and_the_breaker_rules_as_they_were() -> None:
    assert decide(100, 0, 4, 0, CLOSED, SETTINGS, throttled=True).reason == "enough_agents"
    assert decide(10**6, 0, 0, 0, OPEN, SETTINGS, throttled=True).reason == "breaker_open"
    assert decide(10**6, 0, 0, 0, HALF, SETTINGS, throttled=True).reason == "probe"
    assert decide(0, 0, 2, 0, CLOSED, SETTINGS, throttled=True).reason == "empty_backlog"


def test_a_fleet_that_grew_without_its_rate_following_stops_growing() -> None:
    from spoolwatch.scaling.ceiling import Throughput

    # 2 agents took 400 records/s each; now 4 run and each takes 210: 840/s, not ~1,600.
    flat = decide(
        10**6,
        0,
        4,
        0,
        CLOSED,
        SETTINGS,
        saturated=True,
        per_agent_rate=210.0,
        before=Throughput(2, 400.0),
    )
    assert (flat.recruits, flat.reason, flat.ceiling) == (0, "destination_full", "flat")
    assert flat.throughput == Throughput(4, 210.0)
    # Each still takes 390: the fleet's rate nearly doubled, so it goes on growing.
    rising = decide(
        10**6,
        0,
        4,
        0,
        CLOSED,
        SETTINGS,
        saturated=True,
        per_agent_rate=390.0,
        before=Throughput(2, 400.0),
    )
    assert (rising.recruits, rising.ceiling) == (6, None)


def test_a_flat_rate_counts_only_when_reads_came_back_full() -> None:
    from spoolwatch.scaling.ceiling import Throughput

    # Short reads: the agents wait for records, a lower rate says nothing of the destination.
    thin = decide(
        10**6, 0, 4, 0, CLOSED, SETTINGS, per_agent_rate=50.0, before=Throughput(2, 400.0)
    )
    assert (thin.ceiling, thin.reason) == (None, "scale_up")


@pytest.mark.parametrize("rate", [-1.0, float("nan"), float("inf")])
def test_an_impossible_rate_is_refused_by_name(rate: float) -> None:
    with pytest.raises(ConfigError, match="per_agent_rate"):
        decide(10, 0, 0, 0, CLOSED, SETTINGS, per_agent_rate=rate)


def test_the_ceiling_is_in_the_decision_log_line() -> None:
    line = decide(
        10**6, 0, 3, 0, CLOSED, SETTINGS, throttled=True, per_agent_rate=12.34567
    ).as_log()
    assert (line["ceiling"], line["per_agent_rate"], line["reason"]) == (
        "throttled",
        12.346,
        "destination_full",
    )
    json.dumps(line)
