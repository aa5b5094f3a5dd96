"""Ingestion without HTTP: validate DataRobot ingestion bodies, fold them, remember the answer.

:class:`Ingestor` is what the service's group-commit writer
(:class:`~spoolwatch.server.writer.IngestWriter`) and the embedded sink
(``spoolwatch.sinks.store``) call. :meth:`Ingestor.prepare` checks a request without the
database; :meth:`Ingestor.commit` folds prepared requests in one transaction
(:func:`~spoolwatch.server.group_commit.fold_group`): a request's idempotency key, record
ids and folded statistics commit together, so a retry either finds the stored answer (and
changes nothing) or folds exactly once. :meth:`Ingestor.ingest` does both for one request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from spoolwatch.server.group_commit import SLICE_ITEMS, UNFINISHED, Outcome, fold_group
from spoolwatch.server.ingest_request import (
    IngestError,
    IngestKind,
    IngestResult,
    PreparedRequest,
    check_lengths,
    check_record_items,
    parse_body,
    validate_body,
)
from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import get_deployment
from spoolwatch.store.ingest_log import ingested_record_ids, prune_ingest_log

__all__ = ["IngestError", "IngestKind", "IngestResult", "Ingestor", "PreparedRequest"]

logger = logging.getLogger(__name__)


#: How long idempotency keys and record ids are kept (the longest spool retention, SQS's).
DEDUPE_RETENTION_SECONDS = 14 * 24 * 3600
_PRUNE_EVERY_SECONDS = 600.0


class Ingestor:
    """Validates and folds ingestion bodies into a :class:`Store`. Thread-safe.

    ``on_ingested`` is called after each commit (metrics, alerts); it must not raise.
    Deployments are cached for ``cache_seconds`` so a busy stream does not re-read and
    re-parse the baseline per request. Bodies of more than ``slice_items`` items are folded
    that many at a time (see :mod:`spoolwatch.server.group_commit`).
    """

    def __init__(
        self,
        store: Store,
        *,
        cache_seconds: float = 5.0,
        on_ingested: Callable[[IngestResult], None] | None = None,
        retention_seconds: float = DEDUPE_RETENTION_SECONDS,
        slice_items: int = SLICE_ITEMS,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self.on_ingested = on_ingested
        self.retention_seconds = retention_seconds
        self.slice_items = slice_items
        self._cache: dict[str, tuple[float, Deployment | None]] = {}
        self._lock = threading.Lock()
        self._next_prune = time.monotonic() + _PRUNE_EVERY_SECONDS

    def prune(self, *, now: float | None = None) -> int:
        """Forget idempotency keys and record ids older than the retention; return how many.

        Redelivery comes within the spool's retention (SQS keeps messages 14 days at most),
        so older dedupe state only costs space.
        """
        cutoff = (time.time() if now is None else now) - self.retention_seconds
        return prune_ingest_log(self.store, cutoff)

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._next_prune:
                return
            self._next_prune = now + _PRUNE_EVERY_SECONDS
        try:
            removed = self.prune()
        except Exception:  # pruning is housekeeping; ingestion goes on
            logger.exception("pruning dedupe state failed")
            return
        if removed:
            logger.info("pruned %d idempotency keys and record ids", removed)

    def known_record_ids(self, record_ids: Sequence[str]) -> set[str]:
        """The ids among ``record_ids`` already ingested (in any deployment). Read-only;
        store outages raise ``StoreUnavailable``."""
        if not record_ids:
            return set()
        return ingested_record_ids(self.store, record_ids)

    def forget(self, deployment_id: str | None = None) -> None:
        """Drop cached deployments (after a create or delete)."""
        with self._lock:
            if deployment_id is None:
                self._cache.clear()
            else:
                self._cache.pop(deployment_id.lower(), None)

    def deployment(self, deployment_id: str) -> Deployment:
        """The deployment, or :class:`IngestError` 404."""
        key = deployment_id.lower()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is None or now - cached[0] > self.cache_seconds:
            cached = (now, get_deployment(self.store, key))
            with self._lock:
                self._cache[key] = cached
        if cached[1] is None:
            raise IngestError(404, f"deployment {deployment_id} not found")
        return cached[1]

    def prepare(
        self,
        kind: IngestKind | str,
        deployment_id: str | None,
        body: bytes | Mapping[str, Any],
        *,
        metric_id: str | None = None,
        idempotency_key: str | None = None,
        record_ids: Sequence[str] = (),
        record_items: Sequence[int] = (),
    ) -> PreparedRequest:
        """Check one request without folding it: :class:`IngestError` (404/422) when it is
        refused. ``deployment_id`` is ``None`` only for ``remoteEvents`` (read from the body).
        """
        kind = IngestKind(kind)
        check_lengths(idempotency_key, record_ids, metric_id)
        deployment = self.deployment(deployment_id) if deployment_id is not None else None
        raw = parse_body(body)
        validate_body(kind, raw)
        if kind is IngestKind.REMOTE_EVENTS and raw.get("deploymentId"):
            deployment = self.deployment(str(raw["deploymentId"]))
        if kind is IngestKind.CUSTOM_METRIC and not metric_id:
            raise IngestError(422, "customMetrics needs a metric id in the path")
        request = PreparedRequest(
            kind,
            deployment,
            raw,
            metric_id,
            idempotency_key or None,
            tuple(record_ids),
            record_items=tuple(record_items),
        )
        check_record_items(request)
        return request.sliced(self.slice_items)

    def commit(self, requests: Sequence[PreparedRequest]) -> list[Outcome]:
        """Fold ``requests`` in one transaction; one outcome each: its answer, the error to
        answer with (a store outage is ``StoreUnavailable`` for all), or ``UNFINISHED`` for
        a request folded in slices that has more to fold (commit it again)."""
        outcomes = fold_group(self.store, requests, slice_items=self.slice_items)
        self._maybe_prune()
        if self.on_ingested is not None:
            for outcome in outcomes:
                if isinstance(outcome, IngestResult) and not outcome.duplicate:
                    try:
                        self.on_ingested(outcome)
                    except Exception:  # a failing hook must never fail an accepted request
                        logger.exception("post-ingestion hook failed")
        return outcomes

    def ingest(
        self,
        kind: IngestKind | str,
        deployment_id: str | None,
        body: bytes | Mapping[str, Any],
        *,
        metric_id: str | None = None,
        idempotency_key: str | None = None,
        record_ids: Sequence[str] = (),
        record_items: Sequence[int] = (),
    ) -> IngestResult:
        """Validate, fold and answer one request in the calling thread (slice after slice
        when it is large). Raises :class:`IngestError` (404/422); store outages raise
        ``StoreUnavailable``."""
        request = self.prepare(
            kind,
            deployment_id,
            body,
            metric_id=metric_id,
            idempotency_key=idempotency_key,
            record_ids=record_ids,
            record_items=record_items,
        )
        while True:
            (outcome,) = self.commit([request])
            if outcome is UNFINISHED:
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            assert isinstance(outcome, IngestResult)
            return outcome
