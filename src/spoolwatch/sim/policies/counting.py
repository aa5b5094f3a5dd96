"""In-memory lease and breaker stores that count the DynamoDB requests they stand for.

The ``spoolwatch`` policy runs the real :class:`~spoolwatch.scaling.LeaseTable` and
:class:`~spoolwatch.scaling.CircuitBreaker` over these, so its DynamoDB bill is what the
real code would use: a conditional write is a write unit whether it wins or not, a strongly
consistent read a read unit per 4 KB. The breaker store also counts how often the breaker
opened (a write of an open state with a new ``opened_at``: first openings and re-openings
after a failed probe).
"""

from __future__ import annotations

from spoolwatch.scaling import (
    BreakerRecord,
    BreakerState,
    ClaimResult,
    FailureRecord,
    Lease,
    MemoryBreakerStore,
    MemoryLeaseStore,
)
from spoolwatch.sim.costs import CostLedger

__all__ = ["CountingBreakerStore", "CountingLeaseStore"]


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
        self.openings = 0

    def read_state(self) -> BreakerRecord:
        """One strongly consistent get: one read unit."""
        self.ledger.dynamodb_read_units += 1
        return super().read_state()

    def write_state(self, record: BreakerRecord, expected_version: int) -> bool:
        """A conditional put: one write unit."""
        self.ledger.dynamodb_write_units += 1
        before = super().read_state()
        written = super().write_state(record, expected_version)
        if written and record.state is BreakerState.OPEN and record.opened_at != before.opened_at:
            self.openings += 1
        return written

    def add_failure(self, failure: FailureRecord) -> None:
        """A put: one write unit."""
        self.ledger.dynamodb_write_units += 1
        super().add_failure(failure)

    def failures_since(self, since: float, limit: int) -> list[FailureRecord]:
        """A query: one read unit."""
        self.ledger.dynamodb_read_units += 1
        return super().failures_since(since, limit)
