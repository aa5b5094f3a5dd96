"""spoolwatch's simulated agent looks up redelivered records before sending them, as
``ChannelReader._already_delivered`` does: one call per read that holds any, those the
destination already accepted deleted unsent."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from spoolwatch.sim.model import drain
from spoolwatch.sim.policies import SpoolwatchPolicy
from spoolwatch.sim.run import simulate
from spoolwatch.sim.sqs import InFlight
from spoolwatch.sim.world import AgentRun, SimParams, World

VISIBILITY = SimParams().visibility_seconds


def _world(*, outages: tuple[tuple[float, float], ...] = ()) -> World:
    world = World(SimParams(sample_seconds=1.0), seed=0, outages=outages)
    world.env.process(world.sampler())
    return world


def _taken(world: World, count: int, *, accepted: bool) -> InFlight:
    """``count`` records received now and never deleted: the destination has them when
    ``accepted`` (their agent crashed between send and delete). Visible again at 120 s."""
    world.queue.add(count)
    batch = world.queue.receive(count, VISIBILITY)
    assert batch is not None and batch.count == count
    if accepted:
        world.queue.mark_sent(batch)
    return batch


def _lambda_agent(
    world: World,
    start: float,
    name: str = "lambda-1",
    give_up_at: Callable[[], float] | None = None,
) -> AgentRun:
    """A Lambda agent starting at ``start``, reading batches of 100 until a 20 s read
    returns nothing."""
    agent = AgentRun(name)

    def run() -> Generator[Any, Any, None]:
        yield world.env.timeout(start - world.env.now)
        yield from drain(
            world,
            agent,
            deadline=1e9,
            until_empty=True,
            give_up_at=give_up_at,
            read_batch=100,
            read_wait=20.0,
        )

    world.env.process(run())
    return agent


def _pod(world: World) -> AgentRun:
    """A pod's agent: batches of 500, retrying a failing destination forever."""
    agent = AgentRun("pod-1")
    world.env.process(
        drain(world, agent, deadline=None, until_empty=False, retry_forever=True, read_batch=500)
    )
    return agent


def test_a_redelivered_read_the_destination_already_has_is_deleted_without_a_send() -> None:
    world = _world()
    _taken(world, 100, accepted=True)
    agent = _lambda_agent(world, 110.0)
    world.env.run(until=200)
    queue = world.queue
    assert (world.known.calls, world.known.failed, world.known.skipped) == (1, 0, 100)
    assert queue.duplicates == 0
    assert queue.acked == 100 and queue.backlog() == 0
    assert agent.processed == 0  # nothing sent: the watch's "sent" does not count them


def test_only_the_records_the_destination_has_are_skipped_and_the_rest_are_sent() -> None:
    world = _world()
    _taken(world, 30, accepted=True)
    _taken(world, 70, accepted=False)  # given up by a reader before any send
    world.env.process(world.arrivals([(119.0, 50)]))  # fresh, behind the redelivered
    agent = _lambda_agent(world, 110.0)
    world.env.run(until=300)
    queue = world.queue
    # one call, for the read of the 100 redelivered records; none for the fresh 50
    assert (world.known.calls, world.known.skipped) == (1, 30)
    assert agent.processed == 120
    assert queue.duplicates == 0
    assert queue.acked == 150 and queue.backlog() == 0


def test_a_read_without_redelivered_records_makes_no_extra_call() -> None:
    world = _world()
    world.env.process(world.arrivals([(0.0, 1_000)]))
    agent = _lambda_agent(world, 0.0)
    world.env.run(until=100)
    assert agent.processed == 1_000
    assert (world.known.calls, world.known.skipped) == (0, 0)


def test_a_lookup_while_the_destination_is_down_skips_nothing_and_the_send_repeats() -> None:
    world = _world(outages=((0.0, 300.0),))
    _taken(world, 100, accepted=True)
    agent = _pod(world)
    world.env.run(until=400)
    queue = world.queue
    assert (world.known.calls, world.known.failed, world.known.skipped) == (1, 1, 0)
    # the pod held the read through the outage, retrying the send, never asking again
    assert agent.processed == 100
    assert queue.duplicates == 100
    assert queue.acked == 100


def test_a_read_given_back_after_a_failed_lookup_is_asked_again_when_read_again() -> None:
    # a Lambda agent's lookup fails in the outage, its send is retried until its give-up
    # point and the read given back; an agent reading it after the outage skips it
    world = _world(outages=((0.0, 300.0),))
    _taken(world, 100, accepted=True)
    _lambda_agent(world, 110.0, give_up_at=lambda: 200.0)
    world.env.run(until=310)
    assert (world.known.calls, world.known.failed, world.known.skipped) == (1, 1, 0)
    second = _lambda_agent(world, 310.0, "lambda-2")
    world.env.run(until=400)
    assert (world.known.calls, world.known.failed, world.known.skipped) == (2, 1, 100)
    assert second.processed == 0
    assert world.queue.duplicates == 0 and world.queue.acked == 100


def test_the_wake_function_deletes_unsent_a_batch_the_destination_already_has() -> None:
    world = _world()
    _taken(world, 10, accepted=True)
    policy = SpoolwatchPolicy(world)
    policy.start()
    delivered: list[int] = []

    def look() -> Generator[Any, Any, None]:
        yield world.env.timeout(VISIBILITY + 5.0)
        delivered.append(policy.wake_function.delivered)

    world.env.process(look())
    world.env.run(until=VISIBILITY + 10.0)
    figures = policy.figures()
    assert isinstance(figures["wake_invocations"], int) and figures["wake_invocations"] >= 1
    assert world.known.skipped == 10
    assert delivered == [0]
    assert world.queue.duplicates == 0 and world.queue.acked == 10


def test_the_outage_crash_is_no_longer_delivered_twice_by_spoolwatch_keda_or_static() -> None:
    for policy, read_batch in (("spoolwatch", 100), ("keda", 500), ("static", 500)):
        result = simulate(policy, "outage", seed=1)
        assert result.extra["crashes"] == 1, policy
        assert result.duplicates == 0, policy
        assert result.known_skipped == read_batch, policy  # the crashed read, deleted unsent
        assert result.lost == 0, policy


def test_policies_whose_agents_do_not_ask_still_deliver_the_crashed_batch_twice() -> None:
    recipe = simulate("recipe", "outage", seed=1)
    assert recipe.known_skipped is None and "known_lookups" not in recipe.extra
    assert recipe.extra["crashes"] == 1 and recipe.duplicates > 0
    esm = simulate("lambda-esm", "outage", seed=1)
    assert esm.known_skipped is None and "known_lookups" not in esm.extra
