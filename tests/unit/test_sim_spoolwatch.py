"""The simulated ``spoolwatch`` policy follows the shipped Lambda handler's flow."""

from __future__ import annotations

from spoolwatch.scaling import BreakerState, CircuitBreaker, LeaseTable
from spoolwatch.sim.model import AgentRun, SimParams, World, drain
from spoolwatch.sim.policies import SpoolwatchPolicy
from spoolwatch.sim.run import simulate

FOREVER = 1e9


def _world(
    concurrency: int,
    backlog: int,
    *,
    outages: tuple[tuple[float, float], ...] = (),
    trickle: int = 0,
    **params: object,
) -> World:
    settings = SimParams(concurrency=concurrency, sample_seconds=1.0, **params)  # type: ignore[arg-type]
    world = World(settings, seed=0, outages=outages)
    arrivals = [(0.0, backlog)] + [(float(t), trickle) for t in range(1, 3000)] * bool(trickle)
    world.env.process(world.sampler())
    world.env.process(world.arrivals(arrivals))
    return world


def test_spoolwatch_policy_drives_the_real_scaling_code() -> None:
    world = _world(5, 10_000)
    policy = SpoolwatchPolicy(world)
    policy.start()
    assert isinstance(policy.leases, LeaseTable)
    assert isinstance(policy.breaker, CircuitBreaker)
    world.env.run(until=400)
    assert policy.leases.clock.now() == world.params.epoch + 400
    assert world.queue.acked == 10_000


def test_spoolwatch_never_holds_more_leases_or_runs_more_agents_than_the_target() -> None:
    result = simulate("spoolwatch", "burst-1m", seed=3, params=SimParams(concurrency=6))
    assert result.extra["leases_peak"] == 6
    # the schedule's own invocations look at the backlog and are not agents
    assert result.peak_agents == 6
    assert result.delivered == 1_000_000


def test_the_schedule_recruits_and_never_drains() -> None:
    world = _world(3, 50_000)
    policy = SpoolwatchPolicy(world, schedule_phase=0.5)
    policy.start()
    world.env.run(until=149)
    assert world.queue.deliveries == 0
    while policy.trigger.posted == 0:  # the tick at 150 s (plus its cold start)
        world.env.step()
    assert 150 < world.env.now < 155
    assert policy.trigger.posted == 3  # the recruits, posted before any record was read
    assert world.queue.deliveries == 0
    assert world.active == 0  # the schedule's invocation is not an agent
    world.env.run(until=400)
    assert world.queue.acked == 50_000


def test_while_the_destination_is_down_agents_take_no_record_and_open_the_breaker() -> None:
    world = _world(4, 20_000, outages=((0.0, FOREVER),))
    policy = SpoolwatchPolicy(world)
    policy.start()
    world.env.run(until=3000)
    assert world.queue.deliveries == 0  # not one receive: receive counts do not rise
    figures = policy.figures()
    assert figures["checks_failed"] == figures["destination_checks"]
    assert isinstance(figures["checks_failed"], int) and figures["checks_failed"] >= 4
    assert isinstance(figures["breaker_opened"], int) and figures["breaker_opened"] >= 1
    assert policy.breaker.state() is not BreakerState.CLOSED
    assert world.peak_agents <= 4


def test_the_agent_retries_a_failing_send_until_its_give_up_point_then_gives_it_back() -> None:
    world = _world(1, 2_000, outages=((0.0, FOREVER),))
    agent = AgentRun("lambda-1")
    outcome: list[str] = []

    def run() -> object:
        outcome.append(
            (
                yield from drain(
                    world, agent, deadline=840.0, until_empty=True, give_up_at=lambda: 880.0
                )
            )
        )

    world.env.process(run())  # type: ignore[arg-type]
    world.env.run(until=600)
    assert world.queue.in_flight_count == 500  # one read batch, kept in flight meanwhile
    world.env.run(until=1000)
    assert outcome == ["failed"]
    assert world.queue.in_flight_count == 0
    assert world.queue.visible_count == 2_000  # given back: visible again at once
    assert world.queue.deliveries == 500 and world.queue.lost == 0


def test_a_healthy_run_stopped_at_the_deadline_with_work_left_hands_off() -> None:
    world = _world(1, 400_000, agent_throughput=100.0)
    policy = SpoolwatchPolicy(world)
    policy.start()
    world.env.run(until=2600)
    figures = policy.figures()
    assert figures["hand_offs"] == 2  # runs of at most 840 s, from about 150 s
    busy = [agents for t, _, agents in world.timeline if 200 <= t <= 2600]
    assert busy.count(0) <= 3  # the next agent starts within seconds of the hand-off


def test_agents_are_not_scaled_in_while_records_keep_arriving() -> None:
    # 4 agents are recruited for the backlog; 20 records/s then keep the queue from ever
    # reading empty, and the shipped handler has no scale-in: all four run to the deadline
    world = _world(4, 100_000, trickle=20)
    policy = SpoolwatchPolicy(world)
    policy.start()
    world.env.run(until=960)
    late = {agents for t, backlog, agents in world.timeline if 300 <= t <= 950}
    assert late == {4}
    assert world.queue.backlog() < 100


def test_spoolwatch_breaker_opens_in_the_outage_and_no_record_is_lost() -> None:
    result = simulate("spoolwatch", "outage", seed=0)
    assert result.extra["breaker_opened"] >= 1
    assert result.extra["checks_failed"] >= 1
    assert result.lost == 0
    assert result.remaining == 0
    assert result.peak_agents <= 10
    assert result.drained_at is not None
