"""Lease slots: at most N agents at once, without table scans, surviving crashes.

There are N slots, ``0..N-1`` (N = ``target_concurrency``). An agent runs only while it holds
one. Claiming a slot is one conditional write that wins when the slot is free or its lease
expired, so two agents never hold one slot and at most N agents run. A running agent renews
its lease every ``heartbeat_seconds``; on exit it releases the slot; when it crashes its
slot frees itself once the lease expires. The number of running agents is the number of
unexpired leases, read in one request.

Agents start their search at a slot derived from their own name (``crc32(holder) % N``)
and go round from there, trying only slots that read as free, so many agents starting at
once spread over the slots instead of all fighting for slot 0.
"""

from __future__ import annotations

import logging
import threading
import zlib
from types import TracebackType

from spoolwatch.errors import ConfigError
from spoolwatch.scaling.base import Lease, LeaseStore
from spoolwatch.scaling.clock import Clock
from spoolwatch.scaling.settings import ScalingSettings

__all__ = ["LeaseHeartbeat", "LeaseTable"]

log = logging.getLogger(__name__)


class LeaseTable:
    """N lease slots over a :class:`~spoolwatch.scaling.base.LeaseStore`.

    ``now`` arguments default to the injected clock; the simulator may pass its own time.
    """

    def __init__(self, store: LeaseStore, *, slots: int, lease_seconds: float, clock: Clock):
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise ConfigError(f"LeaseTable: slots must be an integer >= 1, got {slots!r}")
        if not lease_seconds > 0:
            raise ConfigError(f"LeaseTable: lease_seconds must be > 0, got {lease_seconds!r}")
        self.store = store
        self.slots = slots
        self.lease_seconds = float(lease_seconds)
        self.clock = clock

    @classmethod
    def from_settings(
        cls, store: LeaseStore, settings: ScalingSettings, clock: Clock
    ) -> LeaseTable:
        """``target_concurrency`` slots with leases of ``lease_seconds``."""
        return cls(
            store,
            slots=settings.target_concurrency,
            lease_seconds=settings.lease_seconds,
            clock=clock,
        )

    def _now(self, now: float | None) -> float:
        return self.clock.now() if now is None else now

    def start_slot(self, holder: str) -> int:
        """Where ``holder`` starts looking: a stable spread over the slots."""
        return zlib.crc32(holder.encode("utf-8")) % self.slots

    def acquire(self, holder: str, now: float | None = None) -> Lease | None:
        """Claim a free slot for ``holder``; ``None`` when all N are held.

        A holder that already holds a live lease gets that lease back, renewed, so a retried
        invocation does not take a second slot.
        """
        if not holder:
            raise ConfigError("LeaseTable.acquire: holder must be a non-empty string")
        at = self._now(now)
        expires_at = at + self.lease_seconds
        stored = {lease.slot: lease for lease in self.store.read_all(self.slots)}
        for lease in stored.values():
            mine = lease.holder == holder and lease.live(at)
            if mine and self.store.renew(lease.slot, holder, expires_at):
                return Lease(lease.slot, holder, lease.acquired_at, expires_at)
        start = self.start_slot(holder)
        for step in range(self.slots):
            slot = (start + step) % self.slots
            current = stored.get(slot)
            if current is not None and current.live(at):
                continue
            result = self.store.try_claim(slot, holder, at, expires_at)
            if result.won:
                log.debug("lease slot %s claimed by %s until %.3f", slot, holder, expires_at)
                return Lease(slot, holder, at, expires_at)
            log.debug("lease slot %s lost to %s", slot, result.current_holder)
        return None

    def renew(self, lease: Lease, now: float | None = None) -> Lease | None:
        """Extend ``lease`` by ``lease_seconds`` from now; ``None`` if it was lost.

        A lease is lost when it expired and another agent claimed the slot: the agent should
        then stop taking new work, as it now runs beyond the concurrency target.
        """
        expires_at = self._now(now) + self.lease_seconds
        if self.store.renew(lease.slot, lease.holder, expires_at):
            return Lease(lease.slot, lease.holder, lease.acquired_at, expires_at)
        log.warning("lease slot %s of %s was lost before renewal", lease.slot, lease.holder)
        return None

    def release(self, lease: Lease) -> bool:
        """Free ``lease``'s slot; ``False`` when it had already been taken over."""
        return self.store.release(lease.slot, lease.holder)

    def running(self, now: float | None = None) -> list[Lease]:
        """The live leases at ``now``, by slot."""
        at = self._now(now)
        return [lease for lease in self.store.read_all(self.slots) if lease.live(at)]

    def count_running(self, now: float | None = None) -> int:
        """How many agents hold a live lease at ``now``."""
        return len(self.running(now))


class LeaseHeartbeat:
    """Renews a lease from a background thread every ``interval`` wall-clock seconds.

    Use it around the agent's run (``with LeaseHeartbeat(table, lease, interval): ...``); on
    exit it stops renewing (it does not release: the caller releases in ``finally``).
    :attr:`lost` is set when a renewal finds the slot taken over; the agent should then stop
    taking work. A renewal that raises (store unreachable) is logged and retried at the next
    beat, as the lease stays valid until it expires.
    """

    def __init__(self, table: LeaseTable, lease: Lease, interval: float) -> None:
        if not interval > 0:
            raise ConfigError(f"LeaseHeartbeat: interval must be > 0, got {interval!r}")
        self.table = table
        self.lease = lease
        self.interval = interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-heartbeat-{lease.slot}", daemon=True
        )

    def start(self) -> LeaseHeartbeat:
        """Start renewing."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing and wait for the thread to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                renewed = self.table.renew(self.lease)
            except Exception:  # the store's errors are transient here; retry next beat
                log.warning("lease slot %s renewal failed", self.lease.slot, exc_info=True)
                continue
            if renewed is None:
                self.lost.set()
                return
            self.lease = renewed

    def __enter__(self) -> LeaseHeartbeat:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
