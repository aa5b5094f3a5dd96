"""The fleet's state as operators see it: backlog, leases, breaker, recent failures, and
whether the data queue's wake trigger is armed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from spoolwatch.scaling import CircuitBreaker, LeaseTable, ScalingSettings, SystemClock
from spoolwatch.serverless.aws import AgentQueues, client
from spoolwatch.serverless.dynamodb import DynamoBreakerStore, DynamoLeaseStore
from spoolwatch.serverless.wake.dynamodb import read_wake_flag

__all__ = ["FleetStatus", "read_fleet_status"]


@dataclass
class FleetStatus:
    """A snapshot of the serverless fleet.

    ``wake`` is the wake trigger's wanted state: ``armed``, ``changedAt`` (epoch seconds) and
    ``why``, the last two None while the flag was never flipped (armed as deployed).
    """

    visible: int
    in_flight: int
    pending_recruits: int
    target_concurrency: int
    leases: list[dict[str, Any]] = field(default_factory=list)
    breaker: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    wake: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return asdict(self)


def read_fleet_status(
    *,
    data_queue_url: str,
    agent_queue_url: str,
    table: str,
    settings: ScalingSettings,
    failures: int = 10,
    sqs: Any = None,
    dynamodb: Any = None,
) -> FleetStatus:
    """Read the backlog from SQS and the leases, breaker and wake flag from DynamoDB (no
    writes)."""
    clock = SystemClock()
    now = clock.now()
    dynamodb = dynamodb if dynamodb is not None else client("dynamodb")
    queues = AgentQueues(data_queue_url, agent_queue_url, sqs=sqs)
    visible, in_flight = queues.data_backlog()
    lease_table = LeaseTable.from_settings(DynamoLeaseStore(dynamodb, table), settings, clock)
    breaker_store = DynamoBreakerStore(dynamodb, table)
    breaker = CircuitBreaker(breaker_store, settings, clock)
    status = breaker.status(now)
    recent = breaker_store.failures_since(now - settings.failure_ttl_seconds, failures)
    wake = read_wake_flag(dynamodb, table)
    return FleetStatus(
        visible=visible,
        in_flight=in_flight,
        pending_recruits=queues.pending_recruits(),
        target_concurrency=settings.target_concurrency,
        leases=[
            {
                "slot": lease.slot,
                "holder": lease.holder,
                "acquiredAt": lease.acquired_at,
                "expiresIn": round(lease.expires_at - now, 1),
            }
            for lease in lease_table.running(now)
        ],
        breaker={
            "state": status.state.value,
            "reason": status.reason,
            "cooldownSeconds": status.cooldown_seconds,
            "reopensIn": None if status.reopens_at is None else round(status.reopens_at - now, 1),
            "probeHolder": status.probe_holder,
            "failuresInWindow": status.failures_in_window,
        },
        failures=[{"at": f.at, "kind": f.kind.value, "reason": f.reason} for f in recent],
        wake={"armed": wake.armed, "changedAt": wake.changed_at, "why": wake.why},
    )
