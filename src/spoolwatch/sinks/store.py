"""The store sink: records go straight into a local store (the embedded mode).

The agent does not know the store; it needs an object with one method, described by
:class:`RecordIngest`:

``ingest(records: Sequence[Record]) -> Sequence[str | None]``
    Store ``records`` (validated, routable, in spool order). Return one entry per record:
    ``None`` when it is stored — or was stored before: the store ignores a record whose id it
    already holds, so redelivery never double-counts — or a reason string when the record is
    refused as invalid (it will be quarantined with that reason). Raise
    :class:`~spoolwatch.errors.DestinationUnavailable` when the store cannot be written right
    now (locked, disconnected): then nothing from this call counts as done and the records
    are offered again later. Must be safe to call from several threads.

Optional methods, called when present:

``heartbeat(status: dict) -> None``
    Keep the agent's health.
``known_record_ids(ids: Sequence[str]) -> set[str]``
    The ids among ``ids`` the store already holds (read-only), so records a spool hands
    out again are acked without being stored a second time. Without it, or when it fails,
    none count as known and the records are stored (their ids drop the repeats).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from spoolwatch.errors import DestinationUnavailable
from spoolwatch.records import Record
from spoolwatch.sinks.base import Rejection, SendResult, Sink

__all__ = ["RecordIngest", "StoreSink"]

logger = logging.getLogger(__name__)


@runtime_checkable
class RecordIngest(Protocol):
    """What :class:`StoreSink` needs from a store (see the module docstring)."""

    def ingest(self, records: Sequence[Record]) -> Sequence[str | None]:
        """Store records idempotently by id; ``None`` = stored, a string = refused (why)."""
        ...


class StoreSink(Sink):
    """Delivers records to an object implementing :class:`RecordIngest`."""

    kind = "store"

    def __init__(self, store: RecordIngest) -> None:
        if not callable(getattr(store, "ingest", None)):
            raise TypeError(f"{type(store).__name__} has no ingest(records) method")
        self._store = store

    def send(self, records: Sequence[Record]) -> SendResult:
        result = SendResult()
        if not records:
            return result
        try:
            outcomes = list(self._store.ingest(records))
        except DestinationUnavailable as exc:
            result.failure, result.failure_kind = exc, "connection"
            return result
        if len(outcomes) != len(records):
            raise RuntimeError(
                f"{type(self._store).__name__}.ingest returned {len(outcomes)} outcomes for "
                f"{len(records)} records"
            )
        for index, (record, reason) in enumerate(zip(records, outcomes, strict=True)):
            if reason is None:
                result.accepted.append(index)
                result.rows += record.row_count()
            else:
                result.rejected[index] = Rejection(f"store refused the record: {reason}")
        result.requests = 1
        return result

    def known_record_ids(self, ids: Sequence[str]) -> set[str]:
        ask = getattr(self._store, "known_record_ids", None)
        if not callable(ask) or not ids:
            return set()
        try:
            known = ask(ids)
        except DestinationUnavailable as exc:
            logger.debug("the store cannot say which records it has: %s", exc)
            return set()
        return set(known) & set(ids)

    def heartbeat(self, status: dict[str, Any]) -> bool:
        beat = getattr(self._store, "heartbeat", None)
        if not callable(beat):
            return False
        beat(status)
        return True
