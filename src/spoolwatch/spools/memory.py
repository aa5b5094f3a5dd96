"""An in-process spool for tests and embedding (the stub broker of this library).

Spools with the same name share one queue, so a :class:`~spoolwatch.report.Reporter` and an
agent in the same process can meet at ``memory://<name>``. Records travel as encoded JSON
envelopes, exactly as they would over a real transport, so what passes here passes there.
Thread-safe.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from spoolwatch.errors import RecordError
from spoolwatch.records import Record, decode_json, encode_json
from spoolwatch.spools.base import Backlog, Delivery, QuarantinedItem, Spool

__all__ = ["MemorySpool"]


@dataclass
class _Queue:
    lock: threading.Condition = field(default_factory=threading.Condition)
    ready: deque[tuple[int, bytes, bool]] = field(default_factory=deque)
    delayed: list[tuple[float, int, bytes]] = field(default_factory=list)
    in_flight: dict[int, bytes] = field(default_factory=dict)
    dead: list[QuarantinedItem] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)


_QUEUES: dict[str, _Queue] = {}
_QUEUES_LOCK = threading.Lock()


class MemorySpool(Spool):
    """A named in-process queue with the full spool contract (ack, nack with delay, quarantine)."""

    transport = "memory"
    record_byte_limit = 10_485_760

    def __init__(self, name: str = "default") -> None:
        self._name = name
        self._taken: set[int] = set()  # sequence numbers this object handed out
        with _QUEUES_LOCK:
            self._queue = _QUEUES.setdefault(name, _Queue())

    @classmethod
    def reset(cls, name: str | None = None) -> None:
        """Forget one named queue, or all of them (for tests)."""
        with _QUEUES_LOCK:
            if name is None:
                _QUEUES.clear()
            else:
                _QUEUES.pop(name, None)

    @property
    def name(self) -> str:
        return f"memory://{self._name}"

    def write(self, records: Sequence[Record]) -> None:
        encoded = [encode_json(record) for record in records]
        q = self._queue
        with q.lock:
            for raw in encoded:
                q.ready.append((next(q.counter), raw, False))
            q.lock.notify_all()

    def write_raw(self, raw: bytes) -> None:
        """Put bytes on the queue as they are (for tests of undecodable messages)."""
        q = self._queue
        with q.lock:
            q.ready.append((next(q.counter), raw, False))
            q.lock.notify_all()

    def _release_delayed(self, now: float) -> None:
        q = self._queue
        due = [item for item in q.delayed if item[0] <= now]
        if due:
            q.delayed = [item for item in q.delayed if item[0] > now]
            for _, seq, raw in due:
                q.ready.append((seq, raw, True))
            # Redelivered records go back in their original order, ahead of newer ones.
            q.ready = deque(sorted(q.ready, key=lambda item: item[0]))

    def read(self, max_records: int, wait: float = 0.0) -> list[Delivery]:
        q = self._queue
        deadline = time.monotonic() + wait
        with q.lock:
            while True:
                self._release_delayed(time.monotonic())
                if q.ready:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                q.lock.wait(min(remaining, 0.05) if q.delayed else remaining)
            taken: list[tuple[int, bytes, bool]] = []
            while q.ready and len(taken) < max_records:
                seq, raw, redelivered = q.ready.popleft()
                q.in_flight[seq] = raw
                self._taken.add(seq)
                taken.append((seq, raw, redelivered))
        return [self._delivery(seq, raw, redelivered) for seq, raw, redelivered in taken]

    def _delivery(self, seq: int, raw: bytes, redelivered: bool) -> Delivery:
        position = f"{self.name}#{seq}"
        try:
            record = decode_json(raw, source=position)
        except RecordError as exc:
            return Delivery(None, raw, seq, position, error=exc, redelivered=redelivered)
        return Delivery(record, raw, seq, position, redelivered=redelivered)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        q = self._queue
        with q.lock:
            for delivery in deliveries:
                self._taken.discard(delivery.token)
                q.in_flight.pop(delivery.token, None)

    def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        q = self._queue
        with q.lock:
            due = time.monotonic() + delay
            for delivery in deliveries:
                self._taken.discard(delivery.token)
                raw = q.in_flight.pop(delivery.token, None)
                if raw is not None:
                    q.delayed.append((due, delivery.token, raw))
            self._release_delayed(time.monotonic())
            # Redelivered records go back in their original order, ahead of newer ones.
            q.ready = deque(sorted(q.ready, key=lambda item: item[0]))
            q.lock.notify_all()

    def quarantine(self, deliveries: Sequence[Delivery], reason: str) -> None:
        q = self._queue
        stamp = datetime.now(UTC).isoformat()
        with q.lock:
            for delivery in deliveries:
                self._taken.discard(delivery.token)
                q.in_flight.pop(delivery.token, None)
                q.dead.append(QuarantinedItem(reason, delivery.position, delivery.raw, stamp))

    def backlog(self) -> Backlog:
        q = self._queue
        with q.lock:
            return Backlog(visible=len(q.ready) + len(q.delayed), in_flight=len(q.in_flight))

    def peek(self, limit: int | None = None) -> Iterator[Delivery]:
        with self._queue.lock:
            items = list(self._queue.ready)[:limit]
        for seq, raw, redelivered in items:
            yield self._delivery(seq, raw, redelivered)

    def quarantined(self, limit: int | None = None) -> Iterator[QuarantinedItem]:
        with self._queue.lock:
            items = list(self._queue.dead)[:limit]
        yield from items

    def close(self) -> None:
        """Give back what this object read and did not settle, as a broker does on disconnect."""
        q = self._queue
        with q.lock:
            for seq in sorted(self._taken):
                raw = q.in_flight.pop(seq, None)
                if raw is not None:
                    q.ready.append((seq, raw, True))
            self._taken.clear()
            q.ready = deque(sorted(q.ready, key=lambda item: item[0]))
            q.lock.notify_all()


def from_url(address: str, **options: object) -> MemorySpool:
    """``memory://name`` → the shared in-process queue of that name."""
    if options:
        raise TypeError(f"memory spool takes no options, got {sorted(options)}")
    return MemorySpool(address.split("://", 1)[1] or "default")
