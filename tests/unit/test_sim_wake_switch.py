"""When the simulated ``spoolwatch`` agents and schedule arm and disarm the wake switch."""

from __future__ import annotations

from spoolwatch.scaling import BreakerState
from spoolwatch.sim.policies import SpoolwatchPolicy
from spoolwatch.sim.world import World
from tests.unit.test_sim_spoolwatch import _world


def _trickle_until(
    last: float, *, outages: tuple[tuple[float, float], ...] = ()
) -> tuple[World, SpoolwatchPolicy]:
    """Two records every 2 s until ``last``; exact counts; the switch starts disarmed and
    the schedule ticks at 3 s, then every 300 s (one agent from the first tick on)."""
    world = _world(1, 0, outages=outages, approx_lag_seconds=0.0)
    world.env.process(world.arrivals([(float(t), 2) for t in range(1, int(last) + 1, 2)]))
    policy = SpoolwatchPolicy(world, schedule_phase=0.01, wake_armed=False)
    policy.start()
    return world, policy


def test_agent_whose_deadline_came_during_a_read_of_an_empty_queue_arms_the_switch() -> None:
    # the agent (started at ~4 s) reads its last records at 835 s; its next read waits past
    # its deadline (~844 s) and returns nothing: no hand-off, nobody runs, so records
    # arriving next would otherwise wait for the schedule's tick at 903 s
    world, policy = _trickle_until(835.0)
    world.env.run(until=900)
    figures = policy.figures()
    assert figures["stopped_deadline"] == 1 and figures["hand_offs"] == 0
    assert world.active == 0 and policy.leases.count_running() == 0
    assert policy.wake.switch.calls == [("arm", "fleet_idle")]
    assert policy.wake.effective  # the mapping followed 30 s after the agent's arm
    world.env.process(world.arrivals([(901.0, 5)]))
    world.env.run(until=902.9)  # before the schedule's next tick
    assert policy.figures()["wake_invocations"] == 1
    assert world.queue.acked == world.queue.arrived


def test_agent_that_hands_off_at_its_deadline_leaves_the_switch_disarmed() -> None:
    world, policy = _trickle_until(1200.0)
    world.env.run(until=10)
    assert world.active == 1
    posted: list[tuple[float, bool]] = []

    def post(count: int, hops: int, *, seen: bool = False) -> None:
        # noted, not queued: the agent queue's lagging counts do not show it yet
        posted.extend([(world.env.now, seen)] * count)

    policy.trigger.post = post  # type: ignore[method-assign]
    world.env.run(until=900)
    figures = policy.figures()
    assert figures["stopped_deadline"] == 1 and figures["hand_offs"] == 1
    assert posted and posted[-1][1]  # the hand-off: its last read returned records
    assert world.active == 0 and policy.leases.count_running() == 0
    assert policy.wake.switch.calls == []  # its successor is on the way: not armed


def test_agent_stopped_by_a_lost_lease_arms_the_switch_when_nobody_else_runs() -> None:
    world, policy = _trickle_until(1200.0)
    world.env.run(until=10)
    assert world.active == 1
    policy.leases.renew = lambda lease: None  # type: ignore[method-assign]
    world.env.run(until=60)  # the heartbeat at ~44 s loses the lease; the agent stops
    assert policy.figures()["stopped_lease_lost"] == 1 and policy.figures()["hand_offs"] == 0
    assert policy.wake.switch.calls[0] == ("arm", "fleet_idle")


def test_agent_whose_run_failed_leaves_the_switch_disarmed_while_the_breaker_is_closed() -> None:
    # the destination goes down under the only agent: it retries its batch until 20 s
    # before its deadline, gives it back and records one failure (the breaker stays closed)
    world, policy = _trickle_until(1200.0, outages=((100.0, 2000.0),))
    world.env.run(until=900)
    assert world.active == 0 and policy.leases.count_running() == 0
    assert policy.breaker_store.openings == 0
    assert policy.breaker.state() is BreakerState.CLOSED
    assert policy.figures()["hand_offs"] == 0 and world.queue.acked < world.queue.arrived
    assert policy.wake.switch.calls == []  # a failing run never arms it


def test_schedule_disarms_a_switch_left_armed_while_a_lease_slot_is_live() -> None:
    # an agent's arm and a newcomer's disarm that crossed: armed, with an agent running
    world = _world(3, 0, approx_lag_seconds=0.0)
    policy = SpoolwatchPolicy(world, schedule_phase=0.01)  # ticks at 3 s, then 303 s
    policy.start()
    assert policy.leases.acquire("running-agent") is not None
    world.env.run(until=5)
    assert policy.wake.switch.calls == [("disarm", "agents_running")]
    assert not policy.wake.switch.armed and not policy.wake.switch.enabled
    world.env.run(until=40)  # the mapping followed 30 s after the schedule's disarm
    assert not policy.wake.effective
    world.env.process(world.arrivals([(50.0, 30)]))
    world.env.run(until=100)
    assert policy.figures()["wake_invocations"] == 0  # the running agents take them


def test_schedule_arms_the_switch_when_the_backlog_is_empty_and_no_lease_slot_is_live() -> None:
    world = _world(3, 0, approx_lag_seconds=0.0)
    policy = SpoolwatchPolicy(world, schedule_phase=0.01, wake_armed=False)
    policy.start()
    world.env.run(until=5)
    assert policy.wake.switch.calls == [("arm", "fleet_idle")]
    assert policy.wake.switch.enabled  # reconciled at once
