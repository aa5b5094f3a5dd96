"""Scaling agents with the backlog: the pure policy, lease slots and the circuit breaker.

* :func:`decide` (``policy``): how many agents to recruit from the backlog (visible + in
  flight), the agents running, the recruits already requested and the breaker state. Pure.
* :class:`LeaseTable` (``leases``): N slots, one per agent allowed to run; a slot is claimed
  by one conditional write, renewed by heartbeat, released on exit, and frees itself when an
  agent crashes and its lease expires. Running agents = unexpired leases.
* :class:`CircuitBreaker` (``breaker``): closed → open after K counting failures within a
  window → half-open after a cooldown (doubling per failed probe, capped) → one probe →
  closed on its success. State changes are optimistic-concurrency writes.
* Storage behind :class:`LeaseStore` / :class:`BreakerStore` (``base``): in memory
  (``memory``) for tests and the simulator, DynamoDB in :mod:`spoolwatch.serverless.dynamodb`.
* :func:`run_margin` (``deadline``): how long before Lambda's deadline an agent stops
  reading — the configured margin, capped at half the time left. Pure.
* The rules of one Lambda session (``session``): when an agent starts, how the wake switch
  moves, each turn of the watch beside a running agent, when it stops as surplus, when it
  hands off, what the wake function recruits. Pure; the handler in
  :mod:`spoolwatch.serverless` and the simulator both call them. The wake switch's state
  (``wake``): :class:`~spoolwatch.scaling.wake.MemoryWakeSwitch` and its protocol.
* Time from a :class:`Clock` (``clock``): :class:`SystemClock`, or :class:`ManualClock` for
  tests and the simulator.
"""

from spoolwatch.scaling.base import (
    BreakerDecision,
    BreakerRecord,
    BreakerState,
    BreakerStore,
    ClaimResult,
    FailureKind,
    FailureRecord,
    Lease,
    LeaseStore,
    failure_kind_of,
)
from spoolwatch.scaling.breaker import BreakerStatus, CircuitBreaker
from spoolwatch.scaling.clock import Clock, ManualClock, SystemClock
from spoolwatch.scaling.deadline import run_margin
from spoolwatch.scaling.leases import LeaseHeartbeat, LeaseTable
from spoolwatch.scaling.memory import MemoryBreakerStore, MemoryLeaseStore
from spoolwatch.scaling.policy import Decision, decide
from spoolwatch.scaling.settings import ScalingSettings

__all__ = [
    "BreakerDecision",
    "BreakerRecord",
    "BreakerState",
    "BreakerStatus",
    "BreakerStore",
    "CircuitBreaker",
    "ClaimResult",
    "Clock",
    "Decision",
    "FailureKind",
    "FailureRecord",
    "Lease",
    "LeaseHeartbeat",
    "LeaseStore",
    "LeaseTable",
    "ManualClock",
    "MemoryBreakerStore",
    "MemoryLeaseStore",
    "ScalingSettings",
    "SystemClock",
    "decide",
    "failure_kind_of",
    "run_margin",
]
