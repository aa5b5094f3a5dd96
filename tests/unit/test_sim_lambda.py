"""The modelled Lambda service and agent-queue trigger of the simulator."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from spoolwatch.sim.lambda_ import AgentMessage, AgentQueueTrigger, LambdaFunction
from spoolwatch.sim.world import SimParams, World


def _sleeper(world: World, seconds: float, log: list[float]) -> Any:
    def body(deadline: float) -> Generator[simpy.Event, Any, None]:
        log.append(world.env.now)
        yield world.env.timeout(seconds)

    return body


def test_at_most_1000_new_environments_start_in_10_seconds() -> None:
    world = World(SimParams(), seed=0)
    function = LambdaFunction(world)
    started: list[float] = []
    for _ in range(1500):
        function.invoke(_sleeper(world, 60.0, started))
    world.env.run(until=30)
    assert len(started) == 1500
    assert sum(1 for t in started if t < 10.0) == 1000
    assert function.cold_starts == 1500


def test_idle_environments_are_reused_without_a_cold_start() -> None:
    world = World(SimParams(), seed=0)
    function = LambdaFunction(world)
    started: list[float] = []
    function.invoke(_sleeper(world, 1.0, started))
    world.env.run(until=10)
    function.invoke(_sleeper(world, 1.0, started))
    world.env.run(until=20)
    assert function.cold_starts == 1
    assert started[1] == 10.0  # warm: no INIT before the handler
    assert world.ledger.lambda_requests == 2


def test_invocations_are_billed_per_gb_second_including_the_cold_start() -> None:
    world = World(SimParams(lambda_memory_gb=1.0), seed=0)
    function = LambdaFunction(world)
    started: list[float] = []
    function.invoke(_sleeper(world, 10.0, started))
    world.env.run(until=30)
    assert 10.0 < world.ledger.lambda_gb_seconds < 10.0 + 3.0
    assert world.ledger.lambda_gb_seconds > 10.0 + started[0] - 0.01


def _trigger(
    world: World, *, loop_detection: bool, seen: list[int], seconds: float = 1.0
) -> AgentQueueTrigger:
    def handler(message: AgentMessage) -> Any:
        def body(deadline: float) -> Generator[simpy.Event, Any, None]:
            seen.append(message.hops)
            yield world.env.timeout(seconds)

        return body

    return AgentQueueTrigger(
        world,
        LambdaFunction(world),
        handler,
        max_concurrency=100,
        loop_detection=loop_detection,
    )


def test_recursive_loop_detection_drops_the_17th_hop() -> None:
    world = World(SimParams(), seed=0)
    seen: list[int] = []
    trigger = _trigger(world, loop_detection=True, seen=seen)
    trigger.post(1, 15)
    trigger.post(1, 16)
    world.env.run(until=20)
    assert seen == [15]
    assert trigger.loop_stops == 1


def test_recursive_loop_allowed_lets_every_hop_through() -> None:
    world = World(SimParams(), seed=0)
    seen: list[int] = []
    trigger = _trigger(world, loop_detection=False, seen=seen)
    trigger.post(1, 40)
    world.env.run(until=20)
    assert seen == [40]
    assert trigger.loop_stops == 0


def test_agent_queue_trigger_starts_5_then_5_more_per_second() -> None:
    world = World(SimParams(), seed=0)
    seen: list[int] = []
    trigger = _trigger(world, loop_detection=False, seen=seen, seconds=100.0)
    trigger.post(100, 1)
    world.env.run(until=0.5)
    assert trigger.active == 5
    world.env.run(until=3.5)
    assert trigger.active == 20
    assert trigger.pending == 80
