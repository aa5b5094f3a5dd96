"""``spoolwatch``: the real :mod:`spoolwatch.scaling` code (policy, leases, breaker).

Nothing of the policy is re-implemented here: every invocation calls
:meth:`CircuitBreaker.allow`, :meth:`LeaseTable.acquire`, :func:`decide`,
:meth:`LeaseTable.renew`/``release`` and ``record_success``/``record_failure`` on the
in-memory stores, with a clock reading simpy's time plus an epoch. The stores count their
DynamoDB requests (a conditional write is a write unit whether it wins or not).

The simulated handler, as the SAM template deploys it:

* an EventBridge schedule (every ``SimParams.schedule_seconds``, 5 minutes by default)
  invokes the function; recruits and hand-offs
  are messages on the agent queue, whose trigger starts one invocation per message
  (``MaximumConcurrency`` = target concurrency); ``RecursiveLoop: Allow``, so the 16-hop
  loop stop does not apply;
* an invocation: ``breaker.allow`` → ``leases.acquire`` (no slot: exit) → approximate counts
  → drain. Once the first batch was received and sent (the backlog is real, whatever the
  lagging counts say): approximate counts (visible and in flight) →
  ``decide(visible, in_flight, running, pending)`` with ``pending`` = messages waiting in
  the agent queue → post the recruits. An invocation whose first receive finds nothing
  exits without recruiting. A probe reports its success at that first batch, so the breaker
  closes without waiting for a whole drain. It drains until the queue is empty or 60 s
  before the 900 s limit, renewing the lease every ``heartbeat_seconds`` and deciding
  again then; an agent that finds more agents running than :func:`decide` wants
  (``running > wanted``) stops → ``record_success`` or, when the destination
  keeps failing, ``record_failure(DESTINATION_UNREACHABLE)`` → release the lease → post a
  hand-off when stopped by the deadline with work left;
* a crashed invocation reports nothing and keeps its lease until it expires.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from spoolwatch.scaling import (
    BreakerDecision,
    BreakerRecord,
    BreakerState,
    CircuitBreaker,
    ClaimResult,
    FailureKind,
    FailureRecord,
    Lease,
    LeaseTable,
    MemoryBreakerStore,
    MemoryLeaseStore,
    ScalingSettings,
    decide,
)
from spoolwatch.sim.costs import CostLedger
from spoolwatch.sim.lambda_ import AgentQueueTrigger, LambdaFunction
from spoolwatch.sim.model import AgentRun, drain
from spoolwatch.sim.policies.base import Policy

__all__ = ["CountingBreakerStore", "CountingLeaseStore", "SpoolwatchPolicy"]

DEADLINE_MARGIN = 60.0


@dataclass
class _Run:
    """What one invocation keeps while it drains."""

    lease: Lease
    beat: float
    probe: bool
    gate: BreakerDecision | None
    first: bool = True


class CountingLeaseStore(MemoryLeaseStore):
    """The in-memory lease store, counting the DynamoDB requests it stands for."""

    def __init__(self, ledger: CostLedger) -> None:
        super().__init__()
        self.ledger = ledger

    def try_claim(self, slot: int, holder: str, now: float, expires_at: float) -> ClaimResult:
        """A conditional put: one write unit."""
        self.ledger.dynamodb_write_units += 1
        return super().try_claim(slot, holder, now, expires_at)

    def renew(self, slot: int, holder: str, expires_at: float) -> bool:
        """A conditional update: one write unit."""
        self.ledger.dynamodb_write_units += 1
        return super().renew(slot, holder, expires_at)

    def release(self, slot: int, holder: str) -> bool:
        """A conditional delete: one write unit."""
        self.ledger.dynamodb_write_units += 1
        return super().release(slot, holder)

    def read_all(self, slots: int) -> list[Lease]:
        """One strongly consistent query: a read unit per 4 KB (~40 leases)."""
        leases = super().read_all(slots)
        self.ledger.dynamodb_read_units += max(1, -(-len(leases) // 40))
        return leases


class CountingBreakerStore(MemoryBreakerStore):
    """The in-memory breaker store, counting the DynamoDB requests it stands for."""

    def __init__(self, ledger: CostLedger) -> None:
        super().__init__()
        self.ledger = ledger

    def read_state(self) -> BreakerRecord:
        """One strongly consistent get: one read unit."""
        self.ledger.dynamodb_read_units += 1
        return super().read_state()

    def write_state(self, record: BreakerRecord, expected_version: int) -> bool:
        """A conditional put: one write unit."""
        self.ledger.dynamodb_write_units += 1
        return super().write_state(record, expected_version)

    def add_failure(self, failure: FailureRecord) -> None:
        """A put: one write unit."""
        self.ledger.dynamodb_write_units += 1
        super().add_failure(failure)

    def failures_since(self, since: float, limit: int) -> list[FailureRecord]:
        """A query: one read unit."""
        self.ledger.dynamodb_read_units += 1
        return super().failures_since(since, limit)


class SpoolwatchPolicy(Policy):
    """Schedule + agent queue + the real scaling code."""

    name = "spoolwatch"
    summary = "spoolwatch.scaling: decide(), lease slots, circuit breaker"

    def start(self) -> None:
        """Build the real scaling objects over counting stores and start the schedule."""
        world = self.world
        self.settings = ScalingSettings(target_concurrency=world.params.concurrency)
        self.leases = LeaseTable.from_settings(
            CountingLeaseStore(world.ledger), self.settings, world.clock
        )
        self.breaker = CircuitBreaker(
            CountingBreakerStore(world.ledger), self.settings, world.clock
        )
        self.function = LambdaFunction(world)
        self.trigger = AgentQueueTrigger(
            world,
            self.function,
            self._handler,
            max_concurrency=world.params.concurrency,
            loop_detection=False,
        )
        self.decisions: list[int] = []
        self.running_peak = 0
        self.breaker_opened = 0
        self.lease_refusals = 0
        world.env.process(self._schedule())

    def figures(self) -> dict[str, float | int | str | None]:
        """Breaker openings, refused leases, the most leases held at once."""
        return {
            "breaker_opened": self.breaker_opened,
            "lease_refusals": self.lease_refusals,
            "leases_peak": self.running_peak,
            "cold_starts": self.function.cold_starts,
        }

    def _schedule(self) -> Generator[simpy.Event, Any, None]:
        env = self.world.env
        period = self.world.params.schedule_seconds
        yield env.timeout(self.first_tick(period))
        while True:
            self.function.invoke(self._handler(0))
            yield env.timeout(period)

    def _handler(self, hops: int) -> Any:
        def body(deadline: float) -> Generator[simpy.Event, Any, None]:
            yield from self._invocation(hops, deadline)

        return body

    def _decide(self, breaker: BreakerDecision | None, hops: int) -> bool:
        """Read the counts, run :func:`decide`, post the recruits; ``False`` when surplus.

        An agent is surplus when more agents run than the backlog wants: it then stops, so
        a quiet queue is drained by one agent, not by every scheduled invocation.
        """
        visible, in_flight = self.world.queue.approx()
        self.world.ledger.sqs_call()
        running = self.leases.count_running()
        self.running_peak = max(self.running_peak, running)
        state = breaker if breaker is not None else self.breaker.state()
        decision = decide(visible, in_flight, running, self.trigger.pending, state, self.settings)
        self.decisions.append(decision.recruits)
        self.trigger.post(decision.recruits, hops + 1)
        return decision.running <= max(1, decision.wanted)

    def _invocation(self, hops: int, deadline: float) -> Generator[simpy.Event, Any, None]:
        world = self.world
        holder = world.new_name("lambda")
        gate = self.breaker.allow(holder=holder)
        lease = self.leases.acquire(holder) if gate.allowed else None
        if lease is None:
            self.lease_refusals += gate.allowed
            world.over_recruited += hops > 0
            return
        agent = AgentRun(holder)
        state = _Run(lease=lease, beat=world.env.now, probe=gate.probe, gate=gate)
        outcome = yield from drain(
            world,
            agent,
            deadline=deadline - DEADLINE_MARGIN,
            until_empty=True,
            on_step=lambda a: self._heartbeat(a, state, hops),
            failure_delay=self._failure_delay,
        )
        if agent.processed == 0:
            world.over_recruited += hops > 0
        if outcome == "crashed":
            return
        if outcome == "failed":
            before = self.breaker.state()
            after = self.breaker.record_failure(
                reason="destination unreachable", kind=FailureKind.DESTINATION_UNREACHABLE
            )
            self.breaker_opened += before is not after and after is BreakerState.OPEN
        elif state.probe:
            self.breaker.record_success(probe=True)
        self.leases.release(state.lease)
        if outcome == "deadline" and sum(world.queue.approx()) > 0:
            self.trigger.post(1, hops + 1)

    def _failure_delay(self, receives: int) -> float:
        """Nack delay after a failed send: doubles with each receive, at most 12 hours."""
        return min(43_200.0, self.world.params.visibility_seconds * 2.0**receives)

    def _heartbeat(
        self, agent: AgentRun, state: _Run, hops: int
    ) -> Generator[simpy.Event, Any, None]:
        world = self.world
        gate, state.gate = state.gate, None
        if state.first:
            # the first batch went through: the backlog is real, decide on recruits now
            state.first = False
            if state.probe:
                self.breaker.record_success(probe=True)
                state.probe = False
                gate = None
            if not self._decide(gate, hops):
                agent.stop = True
                return
        if world.env.now - state.beat >= self.settings.heartbeat_seconds:
            state.beat = world.env.now
            renewed = self.leases.renew(state.lease)
            if renewed is None:
                agent.stop = True
                return
            state.lease = renewed
            if not self._decide(None, hops):
                agent.stop = True
        return
        yield  # pragma: no cover - makes this a generator
