"""The circuit breaker: stop recruiting agents while the destination keeps failing.

States:

* **closed**: agents run. Each failure an agent reports is stored with its kind, reason and
  a TTL. When ``failure_threshold`` failures that count (:attr:`FailureKind.counts`:
  unreachable destination, 5xx, throttling, auth errors, ...; never poison records) fall
  within ``failure_window_seconds`` since the breaker last closed, it **opens**.
* **open**: no agent runs until the cooldown has passed (``base_cooldown_seconds`` the first
  time).
* **half-open** (open and the cooldown has passed): exactly one agent, the *probe*, is let
  through; it claims the probe with a conditional write, so concurrent callers cannot both
  become the probe. A probe claim that never reports expires after
  ``probe_timeout_seconds``. The probe's success **closes** the breaker and resets the
  cooldown; a counting failure while half-open re-opens it with the cooldown doubled, up to
  ``max_cooldown_seconds``.

The state item is only changed by optimistic-concurrency writes (read, compute, write if the
version is unchanged, otherwise read again), so agents racing to open, probe or close it
never overwrite each other's changes. Time comes from the injected clock unless ``now`` is
given.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from spoolwatch.errors import TransientError
from spoolwatch.scaling.base import (
    BreakerDecision,
    BreakerRecord,
    BreakerState,
    BreakerStore,
    FailureKind,
    FailureRecord,
)
from spoolwatch.scaling.clock import Clock
from spoolwatch.scaling.settings import ScalingSettings

__all__ = ["BreakerStatus", "CircuitBreaker"]

log = logging.getLogger(__name__)

_MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    """A read-only view of the breaker for logs and operators.

    ``failures_in_window`` counts failures that count now, up to ``failure_threshold``.
    """

    state: BreakerState
    version: int
    cooldown_seconds: float
    reopens_at: float | None
    probe_holder: str | None
    reason: str
    failures_in_window: int


class CircuitBreaker:
    """One circuit breaker over a :class:`~spoolwatch.scaling.base.BreakerStore`."""

    def __init__(
        self,
        store: BreakerStore,
        settings: ScalingSettings,
        clock: Clock,
        *,
        max_attempts: int = 10,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.max_attempts = max_attempts

    def _now(self, now: float | None) -> float:
        return self.clock.now() if now is None else now

    # --- reading ------------------------------------------------------------------------

    def state(self, now: float | None = None) -> BreakerState:
        """Closed, open or half-open at ``now``."""
        return self.store.read_state().effective_state(self._now(now))

    def status(self, now: float | None = None) -> BreakerStatus:
        """The state with its cooldown, probe and how many failures count right now."""
        at = self._now(now)
        record = self.store.read_state()
        state = record.effective_state(at)
        return BreakerStatus(
            state=state,
            version=record.version,
            cooldown_seconds=record.cooldown_seconds,
            reopens_at=None if state is BreakerState.CLOSED else _reopens_at(record),
            probe_holder=record.probe_holder if record.probe_claimed(at) else None,
            reason=record.reason,
            failures_in_window=len(self._counting_failures(record, at)),
        )

    # --- gate ---------------------------------------------------------------------------

    def allow(self, now: float | None = None, *, holder: str | None = None) -> BreakerDecision:
        """May an agent run now? In half-open, the first caller becomes the single probe.

        ``holder`` names the probe claim (a random id when not given).
        """
        at = self._now(now)
        probe_holder = holder or uuid.uuid4().hex
        for _ in range(self.max_attempts):
            record = self.store.read_state()
            state = record.effective_state(at)
            if state is BreakerState.CLOSED:
                return BreakerDecision(allowed=True, probe=False, state=state)
            if state is BreakerState.OPEN:
                return BreakerDecision(
                    allowed=False, probe=False, state=state, reopens_at=_reopens_at(record)
                )
            if record.probe_claimed(at):
                return BreakerDecision(
                    allowed=False, probe=False, state=state, probe_holder=record.probe_holder
                )
            claimed = dataclasses.replace(
                record,
                version=record.version + 1,
                probe_holder=probe_holder,
                probe_expires_at=at + self.settings.probe_timeout_seconds,
            )
            if self.store.write_state(claimed, record.version):
                log.info("circuit breaker half-open: probe %s let through", probe_holder)
                return BreakerDecision(
                    allowed=True, probe=True, state=state, probe_holder=probe_holder
                )
        raise TransientError("circuit breaker state kept changing while claiming the probe")

    # --- outcomes -----------------------------------------------------------------------

    def record_failure(
        self,
        now: float | None = None,
        reason: str = "",
        kind: FailureKind = FailureKind.AGENT_CRASH,
    ) -> BreakerState:
        """Record an agent's failure; open (or re-open) the breaker when it should.

        Kinds that do not count (poison records, quarantine) are ignored. Returns the state
        after the failure.
        """
        at = self._now(now)
        kind = FailureKind(kind)
        if not kind.counts:
            log.debug("failure of kind %s does not count towards the breaker", kind)
            return self.state(at)
        reason = (reason or kind.value)[:_MAX_REASON]
        self.store.add_failure(
            FailureRecord(at, kind, reason, expires_at=at + self.settings.failure_ttl_seconds)
        )
        record = self._transition(lambda rec: self._after_failure(rec, at, kind, reason))
        return record.effective_state(at)

    def record_success(self, now: float | None = None, probe: bool = False) -> BreakerState:
        """Record an agent's success; a probe's success closes a half-open breaker.

        Successes of other agents change nothing (and write nothing).
        """
        at = self._now(now)
        if not probe:
            return self.state(at)
        record = self._transition(lambda rec: self._after_probe_success(rec, at))
        return record.effective_state(at)

    # --- transitions --------------------------------------------------------------------

    def _counting_failures(self, record: BreakerRecord, at: float) -> list[FailureRecord]:
        since = max(at - self.settings.failure_window_seconds, record.closed_at)
        found = self.store.failures_since(since, self.settings.failure_threshold)
        return [f for f in found if f.at <= at]

    def _after_failure(
        self, record: BreakerRecord, at: float, kind: FailureKind, reason: str
    ) -> BreakerRecord | None:
        state = record.effective_state(at)
        if state is BreakerState.OPEN:
            return None
        if state is BreakerState.HALF_OPEN:
            cooldown = min(record.cooldown_seconds * 2, self.settings.max_cooldown_seconds)
            log.warning(
                "circuit breaker re-opened for %.0f s after a failure while half-open: %s: %s",
                cooldown,
                kind,
                reason,
            )
            return self._opened(record, at, cooldown, f"{kind}: {reason}")
        failures = self._counting_failures(record, at)
        if len(failures) < self.settings.failure_threshold:
            return None
        cooldown = self.settings.base_cooldown_seconds
        log.warning(
            "circuit breaker opened for %.0f s: %d failures within %.0f s, last %s: %s",
            cooldown,
            len(failures),
            self.settings.failure_window_seconds,
            kind,
            reason,
        )
        summary = f"{len(failures)} failures within {self.settings.failure_window_seconds:g} s"
        return self._opened(record, at, cooldown, f"{summary}; last {kind}: {reason}")

    def _opened(
        self, record: BreakerRecord, at: float, cooldown: float, reason: str
    ) -> BreakerRecord:
        return dataclasses.replace(
            record,
            state=BreakerState.OPEN,
            version=record.version + 1,
            opened_at=at,
            cooldown_seconds=cooldown,
            probe_holder=None,
            probe_expires_at=0.0,
            reason=reason[:_MAX_REASON],
        )

    def _after_probe_success(self, record: BreakerRecord, at: float) -> BreakerRecord | None:
        if record.effective_state(at) is not BreakerState.HALF_OPEN:
            return None
        log.info("circuit breaker closed: the probe succeeded")
        return BreakerRecord(
            state=BreakerState.CLOSED,
            version=record.version + 1,
            closed_at=at,
            reason="probe succeeded",
        )

    def _transition(self, change: Callable[[BreakerRecord], BreakerRecord | None]) -> BreakerRecord:
        """Apply ``change`` to the stored record with optimistic concurrency."""
        for _ in range(self.max_attempts):
            record = self.store.read_state()
            updated = change(record)
            if updated is None:
                return record
            if self.store.write_state(updated, record.version):
                return updated
        raise TransientError("circuit breaker state kept changing; try again")


def _reopens_at(record: BreakerRecord) -> float:
    return record.opened_at + record.cooldown_seconds
