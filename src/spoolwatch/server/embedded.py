"""The embedded mode: an agent's records folded straight into the store, without HTTP.

:class:`EmbeddedIngest` implements the protocol of :class:`spoolwatch.sinks.store.StoreSink`
(``ingest(records) -> [None | reason]``, ``known_record_ids(ids)`` and
``heartbeat(status)``)::

    from spoolwatch.server.embedded import EmbeddedIngest
    from spoolwatch.sinks.store import StoreSink

    sink = StoreSink(EmbeddedIngest(open_store(url)))   # or EmbeddedIngest(app.state.ingestor)

Records are converted to the same REST bodies the HTTP sink posts (spec §5.2), consecutive
compatible ones merged, and folded by the same :class:`Ingestor` the service uses, with the
record ids as the dedupe keys: a redelivered record is accepted and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from spoolwatch.errors import DestinationUnavailable, RecordError
from spoolwatch.records import Record
from spoolwatch.server import schemas
from spoolwatch.server.heartbeats_api import record_heartbeat
from spoolwatch.server.ingestion import IngestError, IngestKind, Ingestor
from spoolwatch.sinks.rest_requests import Piece, Request, convert_record, merge_pieces
from spoolwatch.store.base import Store, StoreUnavailable

__all__ = ["EmbeddedIngest"]

logger = logging.getLogger(__name__)

_MAX_RECORDS = 500
_MAX_BYTES = 8 * 1024 * 1024


def _route(path: str) -> tuple[IngestKind, str | None, str | None]:
    """``(kind, deployment id, metric id)`` of a path under ``/api/v2/``."""
    parts = [p for p in path.split("/") if p]
    if parts == ["remoteEvents"]:
        return IngestKind.REMOTE_EVENTS, None, None
    if len(parts) == 4 and parts[0] == "deployments":
        return IngestKind(parts[2]), parts[1], None
    if len(parts) == 5 and parts[0] == "deployments" and parts[2] == "customMetrics":
        return IngestKind.CUSTOM_METRIC, parts[1], parts[3]
    raise ValueError(f"no ingestion endpoint for path {path!r}")


def _reason(exc: IngestError) -> str:
    if isinstance(exc.detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', ()))}: {d.get('msg')}" for d in exc.detail
        )
    return str(exc.detail)


class EmbeddedIngest:
    """Folds records into a store through an :class:`Ingestor` (thread-safe)."""

    def __init__(self, target: Store | Ingestor) -> None:
        self.ingestor = target if isinstance(target, Ingestor) else Ingestor(target)

    def ingest(self, records: Sequence[Record]) -> list[str | None]:
        """``None`` per stored (or already stored) record, or why it was refused.

        Raises :class:`~spoolwatch.errors.DestinationUnavailable` when the store cannot be
        written; then nothing from this call may be acked (records are folded request by
        request, and a repeat is dropped by its record id, so a retry is safe).
        """
        outcomes: list[str | None] = [None] * len(records)
        pieces: list[tuple[int, Piece]] = []
        for index, record in enumerate(records):
            try:
                pieces.append((index, convert_record(record)))
            except RecordError as exc:
                outcomes[index] = str(exc)
        for request in merge_pieces(pieces, max_bytes=_MAX_BYTES, max_records=_MAX_RECORDS):
            self._deliver(request, pieces, outcomes)
        return outcomes

    def _deliver(
        self, request: Request, pieces: list[tuple[int, Piece]], outcomes: list[str | None]
    ) -> None:
        reason = self._send(request)
        if reason is None:
            return
        if len(request.indexes) == 1:
            outcomes[request.indexes[0]] = reason
            return
        # A merged request was refused: find the bad records one by one.
        by_index = dict(pieces)
        for index in request.indexes:
            (single,) = merge_pieces([(index, by_index[index])], max_bytes=1, max_records=1)
            outcomes[index] = self._send(single)

    def _send(self, request: Request) -> str | None:
        kind, deployment_id, metric_id = _route(request.path)
        try:
            self.ingestor.ingest(
                kind,
                deployment_id,
                request.body,
                metric_id=metric_id,
                record_ids=request.record_ids,
                record_items=request.item_counts,
            )
        except IngestError as exc:
            return f"HTTP {exc.status}: {_reason(exc)}"
        except StoreUnavailable as exc:
            raise DestinationUnavailable(str(exc)) from exc
        return None

    def known_record_ids(self, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` already stored (read-only).

        Raises :class:`~spoolwatch.errors.DestinationUnavailable` when the store cannot be
        read.
        """
        try:
            return self.ingestor.known_record_ids(ids)
        except StoreUnavailable as exc:
            raise DestinationUnavailable(str(exc)) from exc

    def heartbeat(self, status: dict[str, Any]) -> None:
        """Keep the agent's heartbeat in the fleet table."""
        try:
            record_heartbeat(self.ingestor.store, schemas.AgentHeartbeat.model_validate(status))
        except StoreUnavailable as exc:
            raise DestinationUnavailable(str(exc)) from exc
