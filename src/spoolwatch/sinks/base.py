"""The sink contract: where the agent delivers records.

A sink takes records in spool order and reports, per record, what became of them:

* **accepted** — the destination has them (or already had them: a repeat is accepted too);
  the agent acks these in the spool.
* **rejected** — the destination refused this record as invalid (a 4xx other than 429);
  the agent quarantines it with :attr:`Rejection.reason` and goes on.
* **not done** — everything from the first transient failure on. :attr:`SendResult.failure`
  says why (a :class:`~spoolwatch.errors.DestinationUnavailable` with ``retry_after``, and
  the answer's ``status`` and the start of its ``body`` when there was one) and
  :attr:`SendResult.failure_kind` says what kind (``connection``, ``timeout``, ``http_5xx``,
  ``http_429``, ``auth``). The agent backs off and offers exactly those records again; they
  stay un-acked in the spool meanwhile. A server error that repeats while the destination
  answers otherwise (:meth:`Sink.answers`) is narrowed down to the records that fail alone,
  which are quarantined; ``auth`` stops the channel (the records stay in the spool).

Promises of :meth:`Sink.send`:

* It never raises for a record problem or an unavailable destination; both are results.
  It raises only for misuse (a bug) — and then nothing may be acked.
* A transient failure stops the call: records not attempted by then are neither accepted
  nor rejected. Which ones those are depends on the sink (an HTTP sink posts the requests of
  several destinations at once), so the settled records need not be a prefix of the input;
  the records of one destination are attempted in input order.
* It is safe to call again with records it may already have delivered: sinks send the
  record ids along (HTTP: ``Idempotency-Key`` and ``X-Spoolwatch-Record-Ids``) so the
  destination can drop repeats.
* It is thread-safe: the agent's channel readers share one sink.

:meth:`Sink.known_record_ids` lets the agent skip records a spool hands out again after an
agent died between sending and acking them: the ids it returns are acked without a send.
It never raises and may always answer "none known" (the records are then simply sent, and
at worst repeated); it must never name an id the destination does not have.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from spoolwatch.errors import DestinationUnavailable
from spoolwatch.records import Record

__all__ = ["FAILURE_KINDS", "Rejection", "SendResult", "Sink"]

#: The values of :attr:`SendResult.failure_kind`.
FAILURE_KINDS = ("connection", "timeout", "http_5xx", "http_429", "auth")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why the destination refused one record (``request_id``: the request it refused)."""

    reason: str
    status: int | None = None
    body: str = ""
    request_id: str | None = None


@dataclass(slots=True)
class SendResult:
    """The outcome of :meth:`Sink.send`, by index into the records given."""

    accepted: list[int] = field(default_factory=list)
    rejected: dict[int, Rejection] = field(default_factory=dict)
    failure: DestinationUnavailable | None = None
    failure_kind: str | None = None
    requests: int = 0
    rows: int = 0

    def done(self) -> set[int]:
        """Indexes that were settled (accepted or rejected)."""
        return set(self.accepted) | set(self.rejected)

    def add(self, other: SendResult) -> None:
        """Fold in the outcome of another part of the same batch (the first failure wins)."""
        self.accepted.extend(other.accepted)
        self.rejected.update(other.rejected)
        self.requests += other.requests
        self.rows += other.rows
        if self.failure is None and other.failure is not None:
            self.failure, self.failure_kind = other.failure, other.failure_kind


class Sink(abc.ABC):
    """Base class of every sink. Subclasses implement :meth:`send`."""

    #: Short name for logs: ``http``, ``store``, ``dry-run``.
    kind: str = ""

    @abc.abstractmethod
    def send(self, records: Sequence[Record]) -> SendResult:
        """Deliver ``records`` in order and report what became of each (see the module doc)."""

    def known_record_ids(self, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` the destination already has; by default none.

        Called only for redelivered records, once per read. Never raises: a destination
        that cannot be asked answers the empty set.
        """
        return set()

    def heartbeat(self, status: dict[str, Any]) -> bool:
        """Post the agent's health; return False when the destination does not take them."""
        return False

    def answers(self) -> bool:
        """Whether the destination answers a cheap request now (a probe, asked only after a
        request failed with a server error several times). Never raises. By default False:
        a sink that cannot tell never has records isolated on the probe's word."""
        return False

    def check_credentials(self) -> str | None:
        """Before the agent reads anything: ``None``, or why the destination refuses the
        credentials (a message naming the target and what to check). Never raises; a
        destination that cannot be reached now is not a credentials problem (``None``)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
