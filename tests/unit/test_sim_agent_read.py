"""The simulated agent's read waits as ``SqsSpool.read(max_records, wait)`` does."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from typing import Any

import pytest

from spoolwatch.serverless.settings import ServerlessSettings
from spoolwatch.sim.agent_cycle import READ_WAIT_SECONDS, read_serially
from spoolwatch.sim.model import drain
from spoolwatch.sim.policies import SpoolwatchPolicy
from spoolwatch.sim.policies.spoolwatch import IDLE_SECONDS
from spoolwatch.sim.world import AgentRun, SimParams, World
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.spools import sqs as sqs_module
from spoolwatch.spools.sqs import SqsConfig, SqsSpool


def _run(
    arrivals: Sequence[tuple[float, int]],
    *,
    wait: float = IDLE_SECONDS,
    deadline: float = 1e9,
    stop_at: float | None = None,
) -> tuple[World, AgentRun, list[Any]]:
    """One Lambda agent reading batches of 100 until its run ends; (world, agent, [why, when])."""
    world = World(SimParams(sample_seconds=1.0), seed=0)
    world.env.process(world.arrivals(list(arrivals)))
    agent = AgentRun("lambda-1")
    ended: list[Any] = []

    def run() -> Generator[Any, Any, None]:
        why = yield from drain(
            world, agent, deadline=deadline, until_empty=True, read_batch=100, read_wait=wait
        )
        ended.extend([why, world.env.now])

    def stop() -> Generator[Any, Any, None]:
        assert stop_at is not None
        yield world.env.timeout(stop_at)
        agent.request_stop(world.env)

    world.env.process(run())
    if stop_at is not None:
        world.env.process(stop())
    world.env.run(until=300)
    return world, agent, ended


def test_lambda_agents_wait_the_serverless_idle_seconds_and_pods_the_agent_default() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(ServerlessSettings)}
    assert IDLE_SECONDS == defaults["idle_seconds"] == 20.0
    assert READ_WAIT_SECONDS == BatchingConfig().wait_seconds < IDLE_SECONDS


def test_an_idle_agent_takes_a_record_arriving_within_the_idle_wait_and_stops_20_s_later() -> None:
    world, agent, (why, when) = _run([(0.0, 100), (15.0, 7)])
    assert agent.processed == 107
    assert why == "empty"
    assert 35.0 <= when < 36.0  # the 7 records at 15 s, then 20 s without one
    oldest = world.queue.ages.percentile(100)
    assert oldest is not None and oldest < 1.0  # not left waiting for a later receive


def test_an_empty_read_of_20_s_is_one_20_s_long_poll() -> None:
    world, agent, (why, when) = _run([])
    assert (why, agent.processed) == ("empty", 0)
    assert 20.0 <= when < 20.5
    assert world.ledger.sqs_requests == 1


class _FakeTime:
    """``time`` for ``SqsSpool.read``: a clock that only calls and sleeps move."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _EmptyQueueClient:
    """An SQS client of an empty queue: each receive waits its ``WaitTimeSeconds`` plus
    the simulation's median call latency, and is noted."""

    def __init__(self, clock: _FakeTime) -> None:
        self.clock = clock
        self.waits: list[int] = []

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.waits.append(int(kwargs["WaitTimeSeconds"]))
        self.clock.now += kwargs["WaitTimeSeconds"] + SimParams().receive_latency_median
        return {}


def _real_empty_read(monkeypatch: pytest.MonkeyPatch, wait: float) -> tuple[list[int], float]:
    """The shipped ``SqsSpool.read(100, wait)`` on an empty queue: its receives'
    ``WaitTimeSeconds`` and how long it took."""
    clock = _FakeTime()
    monkeypatch.setattr(sqs_module, "time", clock)
    client = _EmptyQueueClient(clock)
    spool = SqsSpool(SqsConfig(queue_url="https://sqs.eu-west-1.amazonaws.com/1/q"), client)
    started = clock.now
    assert spool.read(100, wait=wait) == []
    return client.waits, clock.now - started


def _simulated_empty_read(wait: float) -> tuple[int, float]:
    """The simulation's read of ``wait`` on an empty queue: its receives and its time."""
    world = World(SimParams(sample_seconds=1.0), seed=0)
    outcome: list[Any] = []

    def read() -> Generator[Any, Any, None]:
        outcome.append((yield from read_serially(world, 100, wait)))
        outcome.append(world.env.now)

    world.env.process(read())
    world.env.run(until=60)
    assert outcome[0] == (None, False)
    return world.ledger.sqs_requests, float(outcome[1])


@pytest.mark.parametrize(
    ("wait", "real_waits"),
    [(20.0, [20]), (3.0, [3]), (2.5, [2, 0, 0]), (0.97, [1]), (0.5, [0, 0])],
)
def test_an_empty_read_makes_the_receives_the_shipped_sqs_read_makes(
    monkeypatch: pytest.MonkeyPatch, wait: float, real_waits: list[int]
) -> None:
    waits, took = _real_empty_read(monkeypatch, wait)
    assert waits == real_waits
    requests, ended = _simulated_empty_read(wait)
    assert requests == len(waits)
    assert ended == pytest.approx(took, abs=0.2)


def test_a_pod_read_that_finds_nothing_is_two_receives_half_a_second_apart() -> None:
    world, _, (why, when) = _run([], wait=READ_WAIT_SECONDS)
    assert why == "empty"
    assert 0.5 <= when < 1.0
    assert world.ledger.sqs_requests == 2


def test_records_visible_again_reach_a_long_polling_agent_within_a_second() -> None:
    world = World(SimParams(sample_seconds=1.0), seed=0)
    world.queue.add(10)
    held = world.queue.receive(10, 120.0)
    assert held is not None
    agent = AgentRun("lambda-1")
    world.env.process(
        drain(world, agent, deadline=1e9, until_empty=True, read_batch=100, read_wait=20.0)
    )
    world.env.run(until=5.0)
    world.queue.release(held)  # another reader gave them back: visible, but no arrival
    world.env.run(until=6.5)
    assert agent.processed == 10


@pytest.mark.parametrize(
    ("arrivals", "processed"), [([(0.0, 100), (15.0, 7)], 107), ([(0.0, 100)], 100)]
)
def test_a_stop_during_the_long_poll_does_not_cut_it_short_and_ends_the_run_stopped(
    arrivals: list[tuple[float, int]], processed: int
) -> None:
    # as the real reader: the read in progress returns (with records or after its wait),
    # its records are delivered, and the run's reason is the stop, not "empty"
    _, agent, (why, when) = _run(arrivals, stop_at=5.0)
    assert (why, agent.processed) == ("stopped", processed)
    assert when >= 15.0


def test_a_read_that_waits_past_the_deadline_ends_the_run_at_the_deadline() -> None:
    _, agent, (why, when) = _run([(0.0, 100)], deadline=10.0)
    assert (why, agent.processed) == ("deadline", 100)
    assert when >= 20.0


def test_steady_thin_traffic_keeps_an_agent_running_instead_of_flapping_the_wake_switch() -> None:
    # 5 records a second for 50 minutes: with a 0.5 s wait every record woke the trigger
    # and an agent that stopped at once (about 3,000 arms); with 20 s one agent keeps going
    world = World(SimParams(concurrency=10, sample_seconds=1.0), seed=0)
    world.env.process(world.sampler())
    world.env.process(world.arrivals([(float(t), 5) for t in range(1, 3000)]))
    policy = SpoolwatchPolicy(world)
    policy.start()
    world.env.run(until=3000)
    figures = policy.figures()
    assert isinstance(figures["wake_arms"], int) and figures["wake_arms"] <= 10
    assert world.agents_started <= 40
    assert world.queue.acked >= world.queue.arrived - 10 and world.queue.lost == 0


def test_the_agent_notes_when_its_read_began_while_it_waits_and_clears_it_after() -> None:
    # 100 records at once, then nothing: the second read waits its 20 s for a first record
    world = World(SimParams(sample_seconds=1.0), seed=0)
    world.env.process(world.arrivals([(0.0, 100)]))
    agent = AgentRun("lambda-1")
    seen: list[float | None] = []

    def look() -> Generator[Any, Any, None]:
        for _ in range(30):
            yield world.env.timeout(1.0)
            seen.append(agent.reading_since)

    def run() -> Generator[Any, Any, None]:
        yield from drain(
            world, agent, deadline=1e9, until_empty=True, read_batch=100, read_wait=IDLE_SECONDS
        )

    world.env.process(run())
    world.env.process(look())
    world.env.run(until=40)
    second = seen[2]  # at 3 s: the second read began once the first batch was done
    assert second is not None and 0.0 < second < 1.5
    assert seen[2:19] == [second] * 17  # the same read, still waiting at 19 s
    assert seen[-1] is None  # the run ended empty: no read in progress
    assert agent.processed == 100
