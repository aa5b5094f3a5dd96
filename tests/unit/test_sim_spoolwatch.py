"""The simulated ``spoolwatch`` policy follows the shipped Lambda handler's flow."""

from __future__ import annotations

from typing import Any

import pytest

from spoolwatch.scaling import BreakerState, CircuitBreaker, FailureKind, LeaseTable
from spoolwatch.sim.model import drain
from spoolwatch.sim.policies import SpoolwatchPolicy
from spoolwatch.sim.policies.spoolwatch import _Session
from spoolwatch.sim.policies.wake import WakeFunction, WakeMapping
from spoolwatch.sim.run import simulate
from spoolwatch.sim.world import AgentRun, SimParams, World

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
    policy = SpoolwatchPolicy(world, schedule_phase=0.5, wake_armed=False)
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
    figures = policy.figures()
    # not one receive by an agent: receive counts do not rise; the wake function took a
    # few batches before the agents' disarm reached its trigger
    wake_taken = int(figures["wake_not_delivered"] or 0) + int(figures["wake_breaker_open"] or 0)
    assert world.queue.deliveries == wake_taken <= 100
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
    assert figures["hand_offs"] == 3  # runs of at most 840 s, from about 2 s (the wake)
    busy = [agents for t, _, agents in world.timeline if 5 <= t <= 2600]
    assert busy.count(0) <= 3  # the next agent starts within seconds of the hand-off


def test_surplus_agents_on_the_highest_slots_stop_and_the_lowest_keeps_draining() -> None:
    # 4 agents are recruited for the backlog; once it is gone, 300 records/s keep them all
    # reading but want fewer: agents beyond the lowest live slots stop at their next
    # decision (never the lowest) and do not hand off; the lowest, never idle for the 20 s
    # a read waits, drains until its deadline (842 s) and is the only one to hand on
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
    assert policy.figures()["hand_offs"] == 1
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
    # the crashed read of 100 comes back and is deleted unsent: the destination has it
    assert result.duplicates == 0
    assert result.known_skipped == 100
    assert result.drained_at is not None


# --- full reads, seen recruits and the wake function ------------------------------------


def test_a_burst_is_first_touched_by_the_wake_function_within_seconds() -> None:
    world = _world(10, 1_000_000)
    policy = SpoolwatchPolicy(world, schedule_phase=0.5)  # the schedule's first tick: 150 s
    policy.start()
    world.env.run(until=10)
    first = policy.figures()["wake_first_at"]
    assert isinstance(first, float) and first < 3.0  # a cold start after the arrival
    assert policy.wake_function.delivered > 0
    assert policy.figures()["wake_recruited"] >= 1
    assert world.active >= 2  # agents recruited by the wake function run long before 150 s
    assert not policy.wake.switch.armed  # and they disarmed the switch


def test_with_the_switch_disarmed_the_wake_function_takes_nothing() -> None:
    world = _world(3, 50_000)
    policy = SpoolwatchPolicy(world, schedule_phase=0.5, wake_armed=False)
    policy.start()
    world.env.run(until=149)
    assert policy.figures()["wake_invocations"] == 0
    assert world.queue.deliveries == 0  # nobody looks before the schedule's tick
    world.env.run(until=500)
    assert world.queue.acked == 50_000
    assert policy.figures()["wake_invocations"] == 0


def test_the_last_agent_to_read_empty_arms_the_switch_and_the_next_arrival_wakes_it() -> None:
    world = _world(3, 20_000)
    world.env.process(world.arrivals([(900.0, 5)]))
    policy = SpoolwatchPolicy(world, wake_armed=False)
    policy.start()
    world.env.run(until=899)
    assert policy.wake.switch.calls == [("arm", "fleet_idle")]
    assert policy.wake.effective  # the mapping followed 30 s after the arm
    assert policy.figures()["wake_invocations"] == 0
    world.env.run(until=905)
    assert policy.figures()["wake_invocations"] == 1
    assert world.queue.acked == 20_005  # delivered by the wake function, seconds after
    assert policy.figures()["wake_recruited"] == 1  # and one agent recruited for it


def test_the_mapping_follows_the_switch_after_the_switch_delay() -> None:
    world = World(SimParams(wake_switch_seconds=30.0), seed=0)
    mapping = WakeMapping(world)
    assert mapping.disarm("agents_running") and not mapping.disarm("agents_running")
    world.env.run(until=29.9)
    assert mapping.effective  # still polling while disabling
    world.env.run(until=30.1)
    assert not mapping.effective
    mapping.arm("fleet_idle")
    world.env.run(until=40.0)
    mapping.disarm("agents_running")  # asked while the arm is still being applied
    world.env.run(until=75.0)
    assert not mapping.effective and mapping.effective_changes == 3
    assert mapping.updates_in_transition == 1
    assert (mapping.arms, mapping.disarms) == (1, 2)


def test_full_reads_double_the_fleet_before_the_counts_show_the_burst() -> None:
    result = simulate("spoolwatch", "burst-1m", seed=1, params=SimParams(concurrency=100))
    early = [agents for t, _, agents in result.timeline if t < 60.0]
    # SQS's counts lag 60 s: without the doubling, the first agents would wait for them
    assert max(early) > 50
    by_time = {t: agents for t, _, agents in result.timeline}
    assert 0 < by_time[5.0] < by_time[10.0] < by_time[15.0] < by_time[20.0]
    assert result.peak_agents <= 100 and result.delivered == 1_000_000


def test_full_reads_grow_the_fleet_even_while_the_counts_read_empty() -> None:
    # counts that never catch up: only seen recruits (full reads, wake batches) start
    world = _world(8, 200_000, approx_lag_seconds=1e9)
    policy = SpoolwatchPolicy(world)
    policy.start()
    world.env.run(until=140)
    assert policy.figures()["leases_peak"] == 8
    assert world.queue.acked == 200_000


def test_while_the_breaker_is_open_the_wake_function_delivers_nothing() -> None:
    world = _world(4, 5_000)
    policy = SpoolwatchPolicy(world)
    policy.start()
    for _ in range(policy.settings.failure_threshold):
        policy.breaker.record_failure(reason="down", kind=FailureKind.DESTINATION_UNREACHABLE)
    world.env.run(until=55)  # before the 60 s cooldown ends
    figures = policy.figures()
    assert isinstance(figures["wake_invocations"], int) and figures["wake_invocations"] > 0
    assert figures["wake_breaker_open"] == 10 * figures["wake_invocations"]
    assert world.queue.acked == 0 and figures["wake_recruited"] == 0
    # the batches are not given back at once: they stay in flight until the timeout
    assert world.queue.in_flight_count == figures["wake_breaker_open"]
    assert world.queue.in_flight_count == world.queue.deliveries


def test_the_wake_function_gives_up_a_batch_it_cannot_deliver_without_losing_it() -> None:
    # the destination goes down while the fleet is idle and the switch armed: the wake
    # function's batches are kept in flight (not lost), its agents open the breaker,
    # which disarms the switch; everything is delivered once the destination is back
    world = _world(4, 0, outages=((0.0, 200.0),))
    world.env.process(world.arrivals([(1.0, 50), (30.0, 50)]))
    policy = SpoolwatchPolicy(world)
    policy.start()
    world.env.run(until=150)
    figures = policy.figures()
    assert isinstance(figures["wake_not_delivered"], int) and figures["wake_not_delivered"] > 0
    assert figures["breaker_opened"] == 1
    assert not policy.wake.switch.armed and not policy.wake.effective
    world.env.run(until=3000)
    assert world.queue.lost == 0 and world.queue.acked == 100


def test_spoolwatch_in_the_outage_loses_nothing_and_the_wake_delivers_nothing_while_down() -> None:
    delivered: list[float] = []
    original = WakeFunction._deliver

    def spy(self: WakeFunction, batch: Any, deadline: float) -> Any:
        before = self.delivered
        yield from original(self, batch, deadline)
        if self.delivered > before:
            delivered.append(self.world.env.now)

    WakeFunction._deliver = spy  # type: ignore[method-assign]
    try:
        result = simulate("spoolwatch", "outage", seed=1)
    finally:
        WakeFunction._deliver = original  # type: ignore[method-assign]
    assert delivered and not [t for t in delivered if 180.0 <= t < 1380.0]
    assert result.lost == 0 and result.remaining == 0
    assert result.duplicates == 0  # the crashed read is looked up and deleted unsent


def test_spoolwatch_with_the_wake_function_gives_the_same_figures_for_a_seed() -> None:
    params = SimParams(concurrency=50)
    first = simulate("spoolwatch", "spiky", seed=4, params=params).as_dict(timeline=True)
    second = simulate("spoolwatch", "spiky", seed=4, params=params).as_dict(timeline=True)
    first.pop("wall_seconds")
    second.pop("wall_seconds")
    assert first == second
    assert first["extra"]["wake_invocations"] > 0


# --- idle decisions and hand-offs while records flow ------------------------------------


def test_a_decision_without_records_accepted_since_the_previous_one_recruits_nobody() -> None:
    # counts that show a backlog at once; the agent's accepted records are set by hand:
    # 100 at 1 s, 100 more at 60 s; decisions at 1, 41, 81 and 121 s
    world = _world(10, 100_000, approx_lag_seconds=0.0)
    policy = SpoolwatchPolicy(world, wake_armed=False)
    policy.start()
    posted: list[float] = []

    def post(count: int, hops: int, *, seen: bool = False) -> None:
        posted.extend([world.env.now] * count)  # noted, not invoked

    policy.trigger.post = post  # type: ignore[method-assign]
    holder = "lambda-x"
    lease = policy.leases.acquire(holder)
    assert lease is not None
    env = world.env
    session = _Session(
        agent=AgentRun(holder),
        lease=lease,
        gate=policy.breaker.allow(holder=holder),
        hops=0,
        give_up=FOREVER,
        started=env.event(),
        finished=env.event(),
    )

    def accept() -> Any:
        yield env.timeout(1.0)
        session.agent.processed = 100
        session.started.succeed()
        yield env.timeout(59.0)
        session.agent.processed = 200

    env.process(policy._watch(session))
    env.process(accept())
    env.run(until=130)
    assert posted and {round(t) for t in posted} == {1, 81}  # not at 41 s nor at 121 s
    withheld = policy.figures()["recruits_withheld"]
    assert isinstance(withheld, int) and withheld >= len(posted) / 2  # at 41 s and 121 s
    assert session.stopped_by is None  # an idle decision is still made: nobody is surplus


def test_a_run_at_its_deadline_while_records_flow_hands_off_though_the_counts_read_0() -> None:
    # 5 records a second and counts that never catch up (they read 0): each agent runs
    # until its deadline, and hands on to a seen recruit that starts at once, not to the
    # schedule's wake trigger minutes later
    world = _world(4, 0, trickle=5, approx_lag_seconds=1e9)
    policy = SpoolwatchPolicy(world)
    policy.start()
    world.env.run(until=2600)
    figures = policy.figures()
    assert figures["stopped_deadline"] == figures["hand_offs"] == 3
    assert figures["hand_offs_counts_empty"] == 3
    oldest = world.queue.ages.percentile(100)
    assert oldest is not None and oldest < 10.0
    assert world.queue.acked >= world.queue.arrived - 10 and world.queue.lost == 0


@pytest.mark.parametrize(("waited", "doubles"), [(None, True), (0.5, True), (5.0, False)])
def test_an_agent_waiting_in_a_read_after_a_full_one_neither_doubles_nor_recruits(
    waited: float | None, doubles: bool
) -> None:
    # counts that read 0 (a queue just emptied, as far as they know); the agent's last
    # read was full and records were accepted since its previous decision; its next read
    # began ``waited`` seconds before the decision (None: it is not reading)
    world = _world(10, 100_000, approx_lag_seconds=1e9)
    policy = SpoolwatchPolicy(world, wake_armed=False)
    policy.start()
    posted: list[bool] = []

    def post(count: int, hops: int, *, seen: bool = False) -> None:
        posted.extend([seen] * count)  # noted, not invoked

    policy.trigger.post = post  # type: ignore[method-assign]
    holder = "lambda-x"
    lease = policy.leases.acquire(holder)
    assert lease is not None
    env = world.env
    session = _Session(
        agent=AgentRun(holder),
        lease=lease,
        gate=policy.breaker.allow(holder=holder),
        hops=0,
        give_up=FOREVER,
        started=env.event(),
        finished=env.event(),
    )

    def accept() -> Any:
        yield env.timeout(10.0)
        session.agent.processed = 100
        session.agent.last_read = 100
        session.agent.reading_since = None if waited is None else env.now - waited
        session.started.succeed()

    env.process(policy._watch(session))
    env.process(accept())
    env.run(until=11)
    figures = policy.figures()
    if doubles:
        assert posted and all(posted)  # seen recruits: the full read doubles the fleet
        assert figures["decisions_waiting"] == 0
    else:
        assert posted == []
        # not withheld either: not saturated, the counts' empty queue wants nobody
        assert figures["recruits_withheld"] == 0
        assert figures["decisions_waiting"] == figures["full_reads_discounted"] == 1
