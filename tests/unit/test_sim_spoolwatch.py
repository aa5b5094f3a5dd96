"""The simulated ``spoolwatch`` policy follows the shipped Lambda handler's flow."""

from __future__ import annotations

from typing import Any

from spoolwatch.scaling import BreakerState, CircuitBreaker, FailureKind, LeaseTable
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
    step: float = 1.0,
    **params: object,
) -> World:
    settings = SimParams(concurrency=concurrency, sample_seconds=1.0, **params)  # type: ignore[arg-type]
    world = World(settings, seed=0, outages=outages)
    ticks = [k * step for k in range(1, int(3000 / step))]
    arrivals = [(0.0, backlog)] + [(t, round(trickle * step)) for t in ticks] * bool(trickle)
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
                    world,
                    agent,
                    deadline=840.0,
                    until_empty=True,
                    give_up_at=lambda: 880.0,
                    read_batch=100,
                )
            )
        )

    world.env.process(run())  # type: ignore[arg-type]
    world.env.run(until=600)
    assert world.queue.in_flight_count == 100  # one read batch, kept in flight meanwhile
    world.env.run(until=1000)
    assert outcome == ["failed"]
    assert world.queue.in_flight_count == 0
    assert world.queue.visible_count == 2_000  # given back: visible again at once
    assert world.queue.deliveries == 100 and world.queue.lost == 0


def test_a_healthy_run_stopped_at_the_deadline_with_work_left_hands_off() -> None:
    world = _world(1, 400_000, agent_throughput=100.0)
    policy = SpoolwatchPolicy(world)
    policy.start()
    world.env.run(until=2600)
    figures = policy.figures()
    assert figures["hand_offs"] == 2  # runs of at most 840 s, from about 150 s
    busy = [agents for t, _, agents in world.timeline if 200 <= t <= 2600]
    assert busy.count(0) <= 3  # the next agent starts within seconds of the hand-off


def test_surplus_agents_on_the_highest_slots_stop_and_the_lowest_keeps_draining() -> None:
    # 4 agents are recruited for the backlog; once it is gone, 300 records/s keep them all
    # reading but want fewer: agents beyond the lowest live slots stop at their next
    # decision (never the lowest), and none of them hands off
    world = _world(4, 100_000, trickle=300, step=0.25)
    policy = SpoolwatchPolicy(world)
    stopped: list[tuple[int, list[int], str]] = []
    stop = policy._stop

    def record(session: Any, why: str) -> None:
        live = sorted(lease.slot for lease in policy.leases.running())
        stopped.append((session.lease.slot, live, why))
        stop(session, why)

    policy._stop = record  # type: ignore[method-assign]
    policy.start()
    world.env.run(until=900)
    assert len(stopped) >= 2
    assert {why for _, _, why in stopped} == {"surplus"}
    for slot, live, _ in stopped:
        assert slot in live and slot != live[0]  # never the lowest live slot
    assert policy.figures()["hand_offs"] == 0
    assert world.peak_agents <= 4 and world.queue.lost == 0
    assert min(agents for t, _, agents in world.timeline if t >= 200) >= 1


def test_a_stop_during_a_retry_wait_gives_the_batch_back_after_the_grace() -> None:
    world = _world(1, 2_000, outages=((0.0, FOREVER),))
    agent = AgentRun("lambda-1")
    stopped_at: list[float] = []
    outcome: list[str] = []

    def give_up_at() -> float:
        return stopped_at[0] + 10.0 if stopped_at else 880.0

    def run() -> Any:
        outcome.append(
            (
                yield from drain(
                    world,
                    agent,
                    deadline=840.0,
                    until_empty=True,
                    give_up_at=give_up_at,
                    read_batch=100,
                )
            )
        )

    def stop_at(when: float) -> Any:
        yield world.env.timeout(when)
        stopped_at.append(world.env.now)
        agent.request_stop(world.env)

    world.env.process(run())
    # with seed 0 the agent waits from 263.5 s to 296.1 s before its next attempt
    world.env.process(stop_at(270.0))
    world.env.run(until=279.9)
    assert world.queue.in_flight_count == 100  # one read batch of 100, kept while retrying
    world.env.run(until=280.1)
    assert outcome == ["failed"]  # given back at the stop plus the 10 s grace, mid-wait
    assert world.queue.in_flight_count == 0 and world.queue.visible_count == 2_000


def test_one_lambda_agent_sends_about_186_records_a_second() -> None:
    # receive 10 x 10, one request of 100, delete 10 x 10, one call after another
    world = _world(1, 50_000)
    agent = AgentRun("lambda-1")
    world.env.process(drain(world, agent, deadline=100.0, until_empty=True, read_batch=100))
    world.env.run(until=101)
    assert 150 * 100 <= agent.processed <= 230 * 100
    assert agent.processed % 100 == 0


def test_agents_stop_when_the_breaker_opens_give_their_batches_back_and_lose_nothing() -> None:
    # 4 agents drain; at 250 s the destination goes down and the breaker opens (other
    # agents' failures): each stops at its next decision, within one heartbeat period, gives
    # its batch back after the 10 s grace, and does not hand off
    world = _world(4, 400_000, outages=((250.0, FOREVER),))
    policy = SpoolwatchPolicy(world)

    def open_breaker() -> Any:
        yield world.env.timeout(250.0)
        for _ in range(policy.settings.failure_threshold):
            policy.breaker.record_failure(reason="down", kind=FailureKind.DESTINATION_UNREACHABLE)

    policy.start()
    world.env.process(open_breaker())
    world.env.run(until=249)
    assert world.active == 4
    world.env.run(until=250 + policy.settings.heartbeat_seconds + 10 + 6)
    figures = policy.figures()
    assert figures["stopped_breaker_open"] == 4
    assert figures["hand_offs"] == 0
    assert world.active == 0 and world.queue.in_flight_count == 0
    assert world.queue.lost == 0 and world.queue.backlog() + world.queue.acked == 400_000


def test_spoolwatch_breaker_opens_in_the_outage_and_no_record_is_lost() -> None:
    result = simulate("spoolwatch", "outage", seed=0)
    assert result.extra["breaker_opened"] >= 1
    assert result.extra["checks_failed"] >= 1
    assert result.lost == 0
    assert result.remaining == 0
    assert result.peak_agents <= 10
    assert result.extra["stopped_breaker_open"] >= 1
    assert result.duplicates <= 100  # the crash repeats one read batch of at most 100
    assert result.drained_at is not None
