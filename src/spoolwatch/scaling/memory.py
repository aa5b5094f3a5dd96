"""In-memory lease and breaker stores, for tests, the simulator and single-process use.

Both keep the promises of :mod:`spoolwatch.scaling.base` under one lock per store, so any
number of threads may share one instance. Expired failure records are dropped when read.
"""

from __future__ import annotations

import threading

from spoolwatch.scaling.base import (
    BreakerRecord,
    BreakerStore,
    ClaimResult,
    FailureRecord,
    Lease,
    LeaseStore,
)

__all__ = ["MemoryBreakerStore", "MemoryLeaseStore"]


class MemoryLeaseStore(LeaseStore):
    """Lease slots in a dict guarded by a lock."""

    def __init__(self) -> None:
        self._leases: dict[int, Lease] = {}
        self._lock = threading.Lock()

    def try_claim(self, slot: int, holder: str, now: float, expires_at: float) -> ClaimResult:
        """Claim ``slot`` when absent or expired (``expires_at < now``)."""
        with self._lock:
            current = self._leases.get(slot)
            if current is not None and not current.expires_at < now:
                return ClaimResult(won=False, current=current)
            self._leases[slot] = Lease(slot, holder, now, expires_at)
            return ClaimResult(won=True)

    def renew(self, slot: int, holder: str, expires_at: float) -> bool:
        """Extend ``holder``'s lease on ``slot``."""
        with self._lock:
            current = self._leases.get(slot)
            if current is None or current.holder != holder:
                return False
            self._leases[slot] = Lease(slot, holder, current.acquired_at, expires_at)
            return True

    def release(self, slot: int, holder: str) -> bool:
        """Remove ``holder``'s lease on ``slot``."""
        with self._lock:
            current = self._leases.get(slot)
            if current is None or current.holder != holder:
                return False
            del self._leases[slot]
            return True

    def read_all(self, slots: int) -> list[Lease]:
        """Stored leases of slots below ``slots``, by slot."""
        with self._lock:
            return [self._leases[s] for s in sorted(self._leases) if s < slots]


class MemoryBreakerStore(BreakerStore):
    """One breaker's state and failure records in memory, guarded by a lock."""

    def __init__(self) -> None:
        self._record = BreakerRecord()
        self._failures: list[FailureRecord] = []
        self._lock = threading.Lock()

    def read_state(self) -> BreakerRecord:
        """The current record (version 0 before the first write)."""
        with self._lock:
            return self._record

    def write_state(self, record: BreakerRecord, expected_version: int) -> bool:
        """Replace the record if its version is still ``expected_version``."""
        with self._lock:
            if self._record.version != expected_version:
                return False
            self._record = record
            return True

    def add_failure(self, failure: FailureRecord) -> None:
        """Keep ``failure`` until it is read after its expiry."""
        with self._lock:
            self._failures.append(failure)

    def failures_since(self, since: float, limit: int) -> list[FailureRecord]:
        """Failures at or after ``since``, newest first; drops expired ones on the way."""
        with self._lock:
            # Records that expired before ``since`` are older than any window that can still
            # ask for them (failure_ttl_seconds >= failure_window_seconds): drop them.
            self._failures = [f for f in self._failures if f.expires_at >= since]
            found = sorted((f for f in self._failures if f.at >= since), key=lambda f: -f.at)
            return found[:limit]
