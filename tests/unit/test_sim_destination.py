"""A destination with a capacity: at most N requests and M rows a second, 429 with
``Retry-After`` beyond, agents that back off and keep their records."""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.scaling import FailureKind
from spoolwatch.sim.destination import DESTINATIONS, Capacity, Destination
from spoolwatch.sim.measured import EASY, MEASURED_FILE, load_figures, measured
from spoolwatch.sim.model import drain
from spoolwatch.sim.policies import SpoolwatchPolicy
from spoolwatch.sim.run import simulate
from spoolwatch.sim.world import AgentRun, SimParams, World, params_named

FIFTY = Capacity(name="fifty", summary="50 requests/s", requests_per_second=50.0)


def _fleet(
    capacity: Capacity, *, agents: int, records: int, pods: bool = False
) -> tuple[World, list[str]]:
    """``agents`` spoolwatch agents (Lambda-like, or always-on pods) draining ``records``
    into ``capacity``, one request per read of 100; (world, how each run ended)."""
    params = SimParams(sample_seconds=1.0, request_records=100.0, destination=capacity)
    world = World(params, seed=3)
    world.env.process(world.sampler())
    world.queue.add(records)
    ended: list[str] = []

    def run(agent: AgentRun) -> Generator[Any, Any, None]:
        if pods:
            why = yield from drain(
                world, agent, deadline=None, until_empty=True, retry_forever=True, read_batch=100
            )
        else:
            why = yield from drain(
                world,
                agent,
                deadline=1e9,
                until_empty=True,
                give_up_at=lambda: 1e9,
                read_batch=100,
                read_wait=0.5,
            )
        ended.append(why)

    for n in range(agents):
        world.env.process(run(AgentRun(f"agent-{n}")))
    world.env.run(until=3600)
    return world, ended


@pytest.mark.parametrize("pods", [False, True], ids=["lambda-agents", "pods"])
def test_a_destination_of_50_requests_a_second_never_accepts_more_and_nothing_is_lost(
    pods: bool,
) -> None:
    world, ended = _fleet(FIFTY, agents=40, records=50_000, pods=pods)
    dest = world.destination
    assert max(requests for requests, _ in dest.per_second.values()) <= 50
    assert dest.refused > 0
    assert dest.accepted_requests == 500
    queue = world.queue
    assert queue.acked == 50_000 and queue.backlog() == 0
    assert queue.lost == 0 and queue.duplicates == 0
    assert ended == ["empty"] * 40
    # about the destination's rate, 500 requests at 50 a second; the pods' back-off (2 s,
    # then 4 s, ...) leaves more windows unused than the real agent's (0.5 s, then 1 s, ...)
    seconds = max(dest.per_second) - min(dest.per_second) + 1
    assert 10 <= seconds <= (20 if pods else 14)


def test_a_rows_capacity_binds_like_a_requests_one() -> None:
    rows = Capacity(name="rows", summary="10,000 rows/s", rows_per_second=10_000.0)
    world, _ = _fleet(rows, agents=40, records=20_000)
    per_row = world.params.rows_per_record
    assert max(r for _, r in world.destination.per_second.values()) <= 10_000
    assert world.destination.accepted_rows == pytest.approx(20_000 * per_row)
    assert world.queue.acked == 20_000 and world.queue.lost == world.queue.duplicates == 0


def test_below_its_capacity_the_destination_refuses_nothing() -> None:
    world, _ = _fleet(FIFTY, agents=5, records=5_000)
    assert world.destination.refused == 0 and world.queue.acked == 5_000


def test_a_refused_send_answers_retry_after_the_seconds_to_the_next_window() -> None:
    dest = Destination(Capacity(name="two", summary="", requests_per_second=2.0))
    assert dest.admit(10.2, 1, 25.0) is None
    assert dest.admit(10.5, 1, 25.0) is None
    assert dest.admit(10.9, 1, 25.0) == 1.0
    assert dest.admit(11.0, 2, 50.0) is None
    assert dest.refused == 1 and dest.accepted_requests == 4
    assert dest.per_second == {10: (2, 50.0), 11: (2, 50.0)}


def test_an_unlimited_destination_keeps_no_windows() -> None:
    dest = Destination(DESTINATIONS["unlimited"])
    assert all(dest.admit(0.5, 1000, 1e6) is None for _ in range(100))
    assert dest.refused == 0 and dest.per_second == {}


def test_a_capacity_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="requests_per_second must be > 0"):
        Capacity(name="zero", summary="", requests_per_second=0.0)


def test_the_burst_against_postgresql_at_cap_100_drains_with_429s_and_nothing_lost() -> None:
    params = params_named(destination="postgresql-1", concurrency=100)
    result = simulate("spoolwatch", "burst-1m", seed=1, params=params)
    assert result.extra["destination_429s"] > 0
    assert result.lost == 0 and result.duplicates == 0 and result.remaining == 0
    assert result.delivered == result.records == 1_000_000
    # 30,000 rows/s of 10.7-row records: no faster than about 2,800 records/s
    floor = 1_000_000 * params.rows_per_record / 30_000.0
    assert result.drained_at is not None and result.drained_at >= floor


def test_the_easy_set_keeps_the_easy_paths_burst() -> None:
    result = simulate("spoolwatch", "burst-1m", seed=1, params=params_named("easy"))
    assert round(result.drained_at or 0) == 538
    assert "destination_429s" not in result.extra


def test_the_simulator_defaults_to_the_shipped_measured_figures() -> None:
    figures, params = measured(), SimParams()
    assert params.agent_throughput == figures.agent_records_per_second
    assert params.request_records == figures.records_per_request
    assert params.request_seconds == figures.request_seconds
    assert params.rows_per_record == figures.rows_per_record
    assert figures.source["benchmark"].startswith("bench/real_stream.py")
    assert {"date", "commit", "machine"} <= set(figures.source)
    assert params_named("easy").agent_throughput == EASY.agent_records_per_second == 3000.0


def test_the_measured_file_ships_with_the_package() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert "sim/measured.json" in pyproject.read_text(encoding="utf-8")
    assert MEASURED_FILE.exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "cannot read"),
        ("[]", "JSON object"),
        (json.dumps({"agent_records_per_second": 1.0}), "records_per_request must be a number"),
        (
            json.dumps(
                {
                    "agent_records_per_second": -1,
                    "records_per_request": 1,
                    "request_seconds": 1,
                    "rows_per_record": 1,
                }
            ),
            "agent_records_per_second must be a finite number > 0",
        ),
    ],
)
def test_a_malformed_parameters_file_is_refused_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "measured.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem) as caught:
        load_figures(path)
    assert str(path) in str(caught.value)


def test_unknown_parameter_sets_and_destinations_are_refused() -> None:
    with pytest.raises(ConfigError, match="choose from measured, easy"):
        params_named("fast")
    with pytest.raises(ConfigError, match="unknown destination 'datarobot'"):
        params_named(destination="datarobot")


def test_the_destination_check_at_a_full_destination_is_a_throttled_failure() -> None:
    capacity = Capacity(name="one", summary="1 request/s", requests_per_second=1.0)
    world = World(SimParams(destination=capacity), seed=0)
    policy = SpoolwatchPolicy(world)
    policy.start()  # nothing arrives: no agent starts, the first schedule tick is at 150 s
    assert world.destination.admit(0.0, 1, 25.0) is None  # the window of second 0 is full
    answers: list[Any] = []

    def check() -> Generator[Any, Any, None]:
        answers.append((yield from policy._destination_ready()))
        yield world.env.timeout(1.0)
        answers.append((yield from policy._destination_ready()))

    world.env.process(check())
    world.env.run(until=5)
    assert answers == [("destination check: HTTP 429", FailureKind.THROTTLED), None]
    assert (policy.destination_checks, policy.checks_failed) == (2, 1)


def test_against_50_requests_a_second_the_fleet_stops_growing_where_the_rate_does() -> None:
    unlimited = simulate("spoolwatch", "burst-1m", seed=1, params=SimParams(concurrency=100))
    capped = simulate(
        "spoolwatch",
        "burst-1m",
        seed=1,
        params=SimParams(concurrency=100, destination=FIFTY),
    )
    assert unlimited.extra["ceilings_learned"] == 0 and unlimited.peak_agents == 100
    # Two agents fill 50 requests a second: the fleet learns it and stops well short of 100.
    assert capped.extra["ceilings_learned"] >= 1
    assert capped.extra["held_at_ceiling"] > 0
    assert capped.peak_agents < 60
    assert capped.lost == 0 and capped.duplicates == 0 and capped.remaining == 0
