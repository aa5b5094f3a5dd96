"""The ``spoolwatch`` policy's wake function: its switch, its trigger and one invocation.

The flow of :func:`spoolwatch.serverless.wake.function.deliver_and_recruit`, with its rules
from :mod:`spoolwatch.scaling.session` (``wake_refuses``, ``wake_decision``); what the
model leaves out is listed in the docstring of :mod:`~spoolwatch.sim.policies.spoolwatch`.

* :class:`WakeMapping`: the wanted state is the real
  :class:`~spoolwatch.scaling.wake.MemoryWakeSwitch` (starts armed); each ``arm`` or
  ``disarm`` is billed as one conditional DynamoDB write, each ``reconcile`` as one read.
  The mapping's *effective* state follows the state the switch set ``wake_switch_seconds``
  later (:class:`~spoolwatch.sim.world.SimParams`; 30 s, an assumption): an update made while
  the previous one is still being applied is counted (``wake_updates_in_transition``: AWS
  may refuse it with ``ResourceInUseException``, which the model does not do).
* :class:`WakeFunction`: the data queue's second trigger (``BatchSize`` 10,
  ``MaximumConcurrency`` 2, function timeout 30 s, ``SPOOLWATCH_DEADLINE_MARGIN_SECONDS``
  10). While the mapping is enabled, five pollers long-poll (their empty receives billed as
  :mod:`~spoolwatch.sim.policies.lambda_esm` bills them); a poller takes up to 10 visible
  records as soon as there are any and a slot is free (an arrival wakes it at once; records
  that become visible again, after a visibility timeout or a release, within a second).
  The invocation is a :class:`~spoolwatch.sim.lambda_.LambdaFunction` of its own (cold
  starts, billing) and not an agent. Its agent is spoolwatch's: before the send it looks
  up the batch's redelivered records (the trigger's event carries their
  ``ApproximateReceiveCount``) and deletes unsent those the destination already accepted
  (:func:`~spoolwatch.sim.agent_cycle.skip_known`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from spoolwatch.scaling import CircuitBreaker, LeaseTable, ScalingSettings, run_margin
from spoolwatch.scaling.ceiling import CeilingStore, ceiling_cap
from spoolwatch.scaling.session import WAKE_BATCH_SIZE, wake_decision, wake_refuses
from spoolwatch.scaling.wake import MemoryWakeSwitch
from spoolwatch.sim.agent_cycle import calls_seconds, send_seconds, send_until, skip_known
from spoolwatch.sim.lambda_ import AgentQueueTrigger, LambdaFunction
from spoolwatch.sim.sqs import InFlight
from spoolwatch.sim.world import AgentRun, World

__all__ = ["WakeFunction", "WakeMapping"]

#: The wake trigger's ``ScalingConfig.MaximumConcurrency`` in the template.
WAKE_MAX_CONCURRENCY = 2
#: The wake function's ``Timeout`` in the template.
WAKE_TIMEOUT = 30.0
#: The wake function's ``SPOOLWATCH_DEADLINE_MARGIN_SECONDS`` in the template.
WAKE_DEADLINE_MARGIN = 10.0
IDLE_POLLERS = 5
LONG_POLL_SECONDS = 20.0
#: How often an idle poller looks again for records that became visible without arriving.
RECHECK_SECONDS = 1.0


class WakeMapping:
    """The wake switch (a :class:`~spoolwatch.scaling.wake.WakeSwitch`) and the state
    the mapping is actually in, which follows the switch after ``wake_switch_seconds``."""

    def __init__(self, world: World, *, armed: bool = True) -> None:
        self.world = world
        self.switch = MemoryWakeSwitch(armed)
        self.effective = armed
        self.effective_changes = 0
        self.updates_in_transition = 0
        self._requested = armed
        self._last_update = float("-inf")
        self._changed = world.env.event()

    @property
    def arms(self) -> int:
        """Calls that flipped the wanted state to armed."""
        return sum(1 for action, _ in self.switch.calls if action == "arm")

    @property
    def disarms(self) -> int:
        """Calls that flipped the wanted state to disarmed."""
        return sum(1 for action, _ in self.switch.calls if action == "disarm")

    def arm(self, why: str) -> bool:
        """``WakeSwitch.arm``: one conditional write; the mapping follows later."""
        self.world.ledger.dynamodb_write_units += 1
        changed = self.switch.arm(why)
        self._follow()
        return changed

    def disarm(self, why: str) -> bool:
        """``WakeSwitch.disarm``: one conditional write; the mapping follows later."""
        self.world.ledger.dynamodb_write_units += 1
        changed = self.switch.disarm(why)
        self._follow()
        return changed

    def reconcile(self) -> str | None:
        """``WakeSwitch.reconcile``: read the flag (one read unit), put the mapping right."""
        self.world.ledger.dynamodb_read_units += 1
        done = self.switch.reconcile()
        self._follow()
        return done

    def changed(self) -> simpy.Event:
        """An event that fires when the effective state next changes."""
        return self._changed

    def _follow(self) -> None:
        """A new ``Enabled`` asked of the mapping takes effect ``wake_switch_seconds`` later."""
        if self.switch.enabled == self._requested:
            return
        env = self.world.env
        self._requested = self.switch.enabled
        if env.now - self._last_update < self.world.params.wake_switch_seconds:
            self.updates_in_transition += 1
        self._last_update = float(env.now)
        env.process(self._apply(self._requested))

    def _apply(self, enabled: bool) -> Generator[simpy.Event, Any, None]:
        yield self.world.env.timeout(self.world.params.wake_switch_seconds)
        if self.effective != enabled:
            self.effective = enabled
            self.effective_changes += 1
            changed, self._changed = self._changed, self.world.env.event()
            changed.succeed()


class WakeFunction:
    """The wake function on the data queue's trigger (see the module docstring)."""

    def __init__(
        self,
        world: World,
        mapping: WakeMapping,
        *,
        breaker: CircuitBreaker,
        leases: LeaseTable,
        trigger: AgentQueueTrigger,
        settings: ScalingSettings,
        call_seconds: float,
        ceiling: CeilingStore,
    ) -> None:
        self.world = world
        self.mapping = mapping
        self.ceiling = ceiling
        self.breaker = breaker
        self.leases = leases
        self.trigger = trigger
        self.settings = settings
        self.call_seconds = call_seconds
        self.function = LambdaFunction(world, timeout=WAKE_TIMEOUT)
        self.active = 0
        self.concurrency_peak = 0
        self.first_at: float | None = None
        self.delivered = 0
        self.not_delivered = 0
        self.refused = 0
        self.recruited = 0
        self._slot_free = world.env.event()
        world.env.process(self._poll())

    def figures(self) -> dict[str, float | int | str | None]:
        """What the wake function did, and how its switch moved."""
        return {
            "wake_invocations": self.function.invocations,
            "wake_first_at": self.first_at,
            "wake_delivered": self.delivered,
            "wake_not_delivered": self.not_delivered,
            "wake_breaker_open": self.refused,
            "wake_recruited": self.recruited,
            "wake_cold_starts": self.function.cold_starts,
            "wake_arms": self.mapping.arms,
            "wake_disarms": self.mapping.disarms,
            "wake_mapping_changes": self.mapping.effective_changes,
            "wake_updates_in_transition": self.mapping.updates_in_transition,
        }

    # --- the trigger ----------------------------------------------------------------------

    def _poll(self) -> Generator[simpy.Event, Any, None]:
        world = self.world
        env, queue = world.env, world.queue
        idle_polls = 0.0
        while True:
            if not self.mapping.effective:
                yield self.mapping.changed()  # a disabled mapping does not poll
                continue
            if self.active >= WAKE_MAX_CONCURRENCY:
                self._slot_free = env.event()
                yield self._slot_free
                continue
            batch = queue.receive(WAKE_BATCH_SIZE, world.params.visibility_seconds)
            if batch is None:
                arrived = queue.wait()
                began = env.now
                yield arrived | env.timeout(RECHECK_SECONDS)
                if not arrived.triggered:
                    queue.stop_waiting(arrived)
                idle_polls += IDLE_POLLERS * (env.now - began) / LONG_POLL_SECONDS
                if idle_polls >= 1:
                    world.ledger.sqs_call(calls=int(idle_polls))
                    idle_polls -= int(idle_polls)
                continue
            world.ledger.sqs_call(records=batch.count)
            self.active += 1
            self.concurrency_peak = max(self.concurrency_peak, self.active)
            env.process(self._invoke(batch))

    def _invoke(self, batch: InFlight) -> Generator[simpy.Event, Any, None]:
        def body(deadline: float) -> Generator[simpy.Event, Any, None]:
            yield from self._on_wake(batch, deadline)

        try:
            yield self.function.invoke(body, agent=False)
        finally:
            self.active -= 1
            if not self._slot_free.triggered:
                self._slot_free.succeed()

    # --- one invocation -------------------------------------------------------------------

    def _on_wake(self, batch: InFlight, deadline: float) -> Generator[simpy.Event, Any, None]:
        """``deliver_and_recruit``: breaker → deliver the batch → recruit."""
        world = self.world
        env = world.env
        if self.first_at is None:
            self.first_at = float(env.now)
        records = batch.count
        state = self.breaker.state()
        yield env.timeout(self.call_seconds)
        if wake_refuses(state):
            # batch item failures: in flight until the visibility timeout, received again
            self.refused += records
            return
        yield from self._deliver(batch, deadline)
        yield env.timeout(3 * self.call_seconds)
        visible, in_flight = world.queue.approx()
        world.ledger.sqs_call(calls=2)  # the data queue's and the agent queue's counts
        running = self.leases.count_running()
        decision = wake_decision(
            visible,
            in_flight,
            running,
            self.trigger.pending,
            state,
            self.settings,
            records=records,
            ceiling=ceiling_cap(self.ceiling.read(), world.clock.now()),
        )
        self.trigger.post(decision.recruits, 1, seen=True)
        self.recruited += decision.recruits

    def _deliver(self, batch: InFlight, deadline: float) -> Generator[simpy.Event, Any, None]:
        """The agent on the trigger's batch: the look-up of its redelivered records, then
        one send of the rest, retried as the agent retries until ``margin / 3`` before the
        deadline; a batch given up stays in flight."""
        world = self.world
        env = world.env
        agent = AgentRun(world.new_name("wake"))
        give_up = deadline - run_margin(WAKE_DEADLINE_MARGIN, deadline - float(env.now)) / 3

        def give_up_at() -> float:
            return give_up

        rest = yield from skip_known(world, batch)
        if rest is None:
            return  # the destination had them all: deleted unsent
        batch = rest
        sent = yield from send_until(world, agent, batch, give_up_at, release=False)
        if not sent:
            self.not_delivered += batch.count
            return
        yield env.timeout(send_seconds(world, batch.count))
        world.queue.mark_sent(batch)
        yield env.timeout(calls_seconds(world, 1))  # DeleteMessageBatch
        world.queue.delete(batch)
        world.ledger.sqs_call()
        world.check_drained()
        self.delivered += batch.count
