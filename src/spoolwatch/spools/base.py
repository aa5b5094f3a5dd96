"""The spool contract every transport implements.

A spool is where monitoring records wait between the model that reports them and the agent
that forwards them: a directory, an SQS queue, a RabbitMQ queue, or memory. Its promises:

* :meth:`Spool.write` returns only when the spool has accepted every record: a filesystem
  spool handed the bytes to the OS (they survive the process, and a power loss only with
  its ``fsync`` option), SQS answered, the broker confirmed the persistent messages. On
  failure it raises and the caller may retry; records already accepted may then appear
  twice, never zero times.
* :meth:`Spool.read` returns at most ``max_records`` deliveries, waiting at most ``wait``
  seconds for the first one. A delivery stays *in flight* until it is acked, nacked or
  quarantined; a consumer that dies with deliveries in flight gets them again later
  (after a restart, a visibility timeout or a broker redelivery): at-least-once.
* Deliveries come in the spool's order (file order, FIFO group order, queue order).
  Bytes that cannot be decoded still come back, as a delivery whose ``error`` is set and
  whose ``record`` is ``None``, so the consumer can quarantine them and go on.
* :meth:`Spool.ack` forgets deliveries for good; :meth:`Spool.nack` makes them readable
  again (after ``delay`` seconds where the transport supports it);
  :meth:`Spool.quarantine` moves them to the spool's dead-letter place with the reason
  and then acks them.
* :meth:`Spool.backlog` counts records waiting (visible) and read but not yet acked
  (in flight). Counts may be approximate where the transport's are (SQS).
* A spool object is used from one thread at a time; give each thread its own.

Transports raise :class:`~spoolwatch.errors.SpoolUnavailable` when the broker or queue cannot
be reached (retry later) and :class:`~spoolwatch.errors.ConfigError` for a wrong setup.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from spoolwatch.errors import RecordError
from spoolwatch.records import Record

__all__ = ["Backlog", "Delivery", "QuarantinedItem", "Spool"]


@dataclass(frozen=True, slots=True)
class Backlog:
    """Records waiting in a spool: readable now (visible) and read but not acked (in flight)."""

    visible: int
    in_flight: int = 0

    @property
    def total(self) -> int:
        """Everything not yet acked."""
        return self.visible + self.in_flight


@dataclass(slots=True)
class Delivery:
    """One record read from a spool, with what the spool needs to ack or nack it.

    ``record`` is ``None`` and ``error`` says why when the bytes could not be decoded.
    ``token`` is the transport's handle (file position, receipt handle, delivery tag).
    ``position`` says where the record was read, for logs and quarantine reasons
    (``fs_spool.3@1204``, ``sqs:<message id>``, ``rabbitmq:<queue>#<tag>``).
    ``redelivered`` is true when the transport knows it handed this record out before.
    """

    record: Record | None
    raw: bytes
    token: Any
    position: str
    error: RecordError | None = None
    redelivered: bool = False

    @property
    def record_id(self) -> str | None:
        """The record's id, when it could be decoded."""
        return self.record.id if self.record is not None else None


@dataclass(frozen=True, slots=True)
class QuarantinedItem:
    """A record parked in a spool's dead-letter place, with why and where it came from."""

    reason: str
    position: str
    raw: bytes
    quarantined_at: str
    #: The record's full length in bytes when ``raw`` keeps only its first bytes (a line or
    #: frame above a filesystem spool's record size cap); ``None`` when ``raw`` is all of it.
    size: int | None = None
    #: Where the record started in its spool file, when the spool knows.
    offset: int | None = None
    #: The record size cap it exceeded (``max_record_bytes``), for an oversized record.
    limit: int | None = None

    @property
    def truncated(self) -> bool:
        """Whether ``raw`` is only the start of the record."""
        return self.size is not None


class Spool(abc.ABC):
    """Base class of every spool transport. Subclasses implement the abstract methods."""

    #: Short transport name: ``filesystem``, ``sqs``, ``rabbitmq``, ``memory``.
    transport: str = ""
    #: DataRobot's message byte limit for this transport (spec §4.0); ``-1`` for none. The
    #: reporting library splits large reports by it exactly as DataRobot's library does.
    record_byte_limit: int = -1

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Where this spool is (directory, queue URL without credentials, queue name)."""

    @abc.abstractmethod
    def write(self, records: Sequence[Record]) -> None:
        """Append ``records`` in order; return only when all were accepted (see above)."""

    @abc.abstractmethod
    def read(self, max_records: int, wait: float = 0.0) -> list[Delivery]:
        """Take up to ``max_records`` deliveries, waiting at most ``wait`` s for the first."""

    @abc.abstractmethod
    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """The destination accepted these records: remove them from the spool for good."""

    @abc.abstractmethod
    def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Give these records back: they will be read again (after ``delay`` s if supported)."""

    @abc.abstractmethod
    def quarantine(self, deliveries: Sequence[Delivery], reason: str) -> None:
        """Park these records in the dead-letter place with ``reason``, then ack them."""

    @abc.abstractmethod
    def backlog(self) -> Backlog:
        """Records visible and in flight."""

    @abc.abstractmethod
    def peek(self, limit: int | None = None) -> Iterator[Delivery]:
        """Yield waiting records in order without consuming them (for ``spool inspect``)."""

    def quarantined(self, limit: int | None = None) -> Iterator[QuarantinedItem]:
        """Yield what sits in the dead-letter place, oldest first. Default: nothing."""
        return iter(())

    def extend(self, deliveries: Sequence[Delivery], seconds: float) -> None:
        """Keep these deliveries in flight for ``seconds`` more (SQS visibility). No-op default."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections, locks and files. Un-acked deliveries will be redelivered."""

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
