"""Contracts of scaling state: lease slots and the circuit breaker, and their storage.

The logic (:mod:`spoolwatch.scaling.leases`, :mod:`spoolwatch.scaling.breaker`) sits above
two small storage interfaces so the same code runs over memory (tests, the simulator) and
DynamoDB (Lambda, :mod:`spoolwatch.serverless.dynamodb`).

:class:`LeaseStore` promises:

* :meth:`LeaseStore.try_claim` is ONE atomic conditional write: it wins when the slot is
  absent or its lease expired (``expires_at < now``), and otherwise changes nothing and
  reports the current holder. Two claimers of one slot never both win.
* :meth:`LeaseStore.renew` and :meth:`LeaseStore.release` act only while ``holder`` still
  holds the slot (an expired lease nobody reclaimed still counts as held).
* :meth:`LeaseStore.read_all` returns what is stored for slots ``0..slots-1``, expired
  leases included, read consistently (it never misses a claim that already returned).
* Methods may be called from several threads at once.

:class:`BreakerStore` promises:

* :meth:`BreakerStore.write_state` is an optimistic-concurrency write: it stores the record
  only when the stored version still equals ``expected_version`` (0 = no record yet) and
  returns ``False`` without changing anything otherwise.
* :meth:`BreakerStore.add_failure` stores a failure record that expires (is cleaned up)
  at its ``expires_at``; :meth:`BreakerStore.failures_since` returns failures at or after a
  time, newest first, reads consistent with earlier writes.

Backends raise :class:`~spoolwatch.errors.TransientError` when the store cannot be reached and
:class:`~spoolwatch.errors.ConfigError` when it is set up wrong (e.g. a missing table).
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass

from spoolwatch.errors import (
    ConfigError,
    DestinationUnavailable,
    RecordError,
    RejectedRecord,
    SpoolUnavailable,
)

__all__ = [
    "BreakerDecision",
    "BreakerRecord",
    "BreakerState",
    "BreakerStore",
    "ClaimResult",
    "FailureKind",
    "FailureRecord",
    "Lease",
    "LeaseStore",
    "failure_kind_of",
]


# --- leases -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lease:
    """Slot ``slot`` held by ``holder`` until ``expires_at`` (epoch seconds) unless renewed."""

    slot: int
    holder: str
    acquired_at: float
    expires_at: float

    def live(self, now: float) -> bool:
        """Whether the lease still holds at ``now`` (it is claimable once ``expires_at < now``)."""
        return self.expires_at >= now


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """The outcome of one claim: ``won``, or the ``current`` lease that made it lose."""

    won: bool
    current: Lease | None = None

    @property
    def current_holder(self) -> str | None:
        """Who holds the slot when the claim lost (``None`` when it won or is unknown)."""
        return self.current.holder if self.current is not None else None


class LeaseStore(abc.ABC):
    """Where lease slots live. See the module docstring for the promises."""

    @abc.abstractmethod
    def try_claim(self, slot: int, holder: str, now: float, expires_at: float) -> ClaimResult:
        """Claim ``slot`` for ``holder`` if it is free or expired at ``now``; atomic."""

    @abc.abstractmethod
    def renew(self, slot: int, holder: str, expires_at: float) -> bool:
        """Move the lease's expiry to ``expires_at`` if ``holder`` still holds ``slot``."""

    @abc.abstractmethod
    def release(self, slot: int, holder: str) -> bool:
        """Free ``slot`` if ``holder`` still holds it; ``False`` if someone else does."""

    @abc.abstractmethod
    def read_all(self, slots: int) -> list[Lease]:
        """Every stored lease of slots ``0..slots-1``, expired ones included."""


# --- circuit breaker ----------------------------------------------------------------------


class BreakerState(enum.StrEnum):
    """Closed lets agents run; open stops them; half-open lets one probe agent through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class FailureKind(enum.StrEnum):
    """Why an agent failed. Only kinds whose :attr:`counts` is true can open the breaker."""

    DESTINATION_UNREACHABLE = "destination_unreachable"
    SERVER_ERROR = "server_error"
    THROTTLED = "throttled"
    AUTH_ERROR = "auth_error"
    SPOOL_UNAVAILABLE = "spool_unavailable"
    CONFIG_ERROR = "config_error"
    AGENT_CRASH = "agent_crash"
    # A bad record is quarantined and the spool keeps draining: not a reason to stop agents.
    POISON_RECORD = "poison_record"
    QUARANTINED = "quarantined"

    @property
    def counts(self) -> bool:
        """Whether this kind counts towards opening the breaker."""
        return self not in (FailureKind.POISON_RECORD, FailureKind.QUARANTINED)


def failure_kind_of(exc: BaseException) -> FailureKind:
    """Classify an exception from the agent into a :class:`FailureKind`."""
    if isinstance(exc, RejectedRecord) and exc.status in (401, 403):
        return FailureKind.AUTH_ERROR
    if isinstance(exc, RecordError):
        return FailureKind.POISON_RECORD
    if isinstance(exc, DestinationUnavailable):
        return FailureKind.DESTINATION_UNREACHABLE
    if isinstance(exc, SpoolUnavailable):
        return FailureKind.SPOOL_UNAVAILABLE
    if isinstance(exc, ConfigError):
        return FailureKind.CONFIG_ERROR
    return FailureKind.AGENT_CRASH


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """One recorded failure: when, what kind, why; cleaned up after ``expires_at``."""

    at: float
    kind: FailureKind
    reason: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """The stored breaker state item.

    ``state`` is only ever stored as closed or open; half-open is open whose cooldown has
    passed (``now >= opened_at + cooldown_seconds``). ``closed_at`` is when the breaker last
    closed: failures before it no longer count. ``probe_holder``/``probe_expires_at`` mark
    the single half-open probe. ``version`` increases by one with every write.
    """

    state: BreakerState = BreakerState.CLOSED
    version: int = 0
    opened_at: float = 0.0
    cooldown_seconds: float = 0.0
    closed_at: float = 0.0
    probe_holder: str | None = None
    probe_expires_at: float = 0.0
    reason: str = ""

    def effective_state(self, now: float) -> BreakerState:
        """The state at ``now``: open turns half-open once its cooldown has passed."""
        if self.state is BreakerState.CLOSED:
            return BreakerState.CLOSED
        if now >= self.opened_at + self.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def probe_claimed(self, now: float) -> bool:
        """Whether a half-open probe holds its claim at ``now``."""
        return self.probe_holder is not None and self.probe_expires_at >= now


@dataclass(frozen=True, slots=True)
class BreakerDecision:
    """Whether an agent may run now; ``probe`` when it is the single half-open probe.

    ``probe_holder`` identifies the probe claim; pass the decision back to
    :meth:`~spoolwatch.scaling.breaker.CircuitBreaker.record_success` or ``record_failure``.
    """

    allowed: bool
    probe: bool
    state: BreakerState
    probe_holder: str | None = None
    reopens_at: float | None = None


class BreakerStore(abc.ABC):
    """Where one circuit breaker's state and failures live. See the module docstring."""

    @abc.abstractmethod
    def read_state(self) -> BreakerRecord:
        """The stored state; a closed record with version 0 when none was written yet."""

    @abc.abstractmethod
    def write_state(self, record: BreakerRecord, expected_version: int) -> bool:
        """Store ``record`` if the stored version is ``expected_version``; atomic."""

    @abc.abstractmethod
    def add_failure(self, failure: FailureRecord) -> None:
        """Store one failure record (kept until ``failure.expires_at``)."""

    @abc.abstractmethod
    def failures_since(self, since: float, limit: int) -> list[FailureRecord]:
        """Up to ``limit`` failures with ``at >= since``, newest first."""
