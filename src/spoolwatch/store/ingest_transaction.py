"""One write transaction of ingestion: what a group commit asks of the store, and folds.

:func:`ingest_transaction` opens the transaction (committed when the block ends without
error, rolled back otherwise) and hands out an :class:`IngestTransaction`: the deployments'
locks, the ingestion log (stored answers, record ids, status jobs) and the folds of
:mod:`spoolwatch.store.folding`, all on that one transaction. A database fault while folding
is raised as :class:`~spoolwatch.store.base.StoreUnavailable`, so the caller can tell it
from a request that cannot be folded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from spoolwatch.store.base import Store
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.folding import (
    fold_actuals,
    fold_custom_metric,
    fold_prediction_inputs,
    fold_service_stats,
    insert_event,
)
from spoolwatch.store.ingest_log import (
    StoredAnswer,
    add_status_job,
    remember_answers,
    remember_record_ids,
    stored_answers,
    update_answer,
)
from spoolwatch.store.record_ids import known_record_ids
from spoolwatch.store.stats_folding import fold_prediction_stats

__all__ = ["IngestTransaction", "ingest_transaction"]


@contextmanager
def ingest_transaction(store: Store) -> Iterator[IngestTransaction]:
    """One write transaction of ingestion (see :meth:`Store.write`)."""
    with store.write() as conn:
        yield IngestTransaction(store, conn)


class IngestTransaction:
    """The store's side of one ingestion transaction. Not thread-safe: one per transaction."""

    def __init__(self, store: Store, conn: Connection) -> None:
        self._store = store
        self._conn = conn

    @contextmanager
    def _faults(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise self._store.unavailable(exc) from exc

    def lock_deployments(self, deployment_ids: Iterable[str]) -> None:
        """Lock the deployments until the transaction ends (:meth:`Store.lock_deployments`)."""
        self._store.lock_deployments(self._conn, deployment_ids)

    def stored_answers(self, keys: Iterable[str]) -> dict[str, StoredAnswer]:
        """The stored answers of these Idempotency-Keys, by key."""
        return stored_answers(self._conn, keys)

    def known_record_ids(self, record_ids: Iterable[str]) -> set[str]:
        """Those of ``record_ids`` already ingested."""
        return known_record_ids(self._conn, record_ids)

    def insert_event(self, event: Mapping[str, Any]) -> None:
        """Store one remote event."""
        with self._faults():
            insert_event(self._conn, event)

    def fold_service_stats(self, deployment: Deployment, items: Sequence[Mapping[str, Any]]) -> int:
        """Fold ``predictionRequests`` items; return their rows."""
        with self._faults():
            return fold_service_stats(self._conn, deployment, items)

    def fold_prediction_inputs(
        self,
        deployment: Deployment,
        items: Sequence[Mapping[str, Any]],
        *,
        skip_drift: bool,
        skip_accuracy: bool,
    ) -> int:
        """Fold ``predictionInputs`` items; return their rows."""
        with self._faults():
            return fold_prediction_inputs(
                self._conn,
                deployment,
                items,
                skip_drift=skip_drift,
                skip_accuracy=skip_accuracy,
            )

    def fold_prediction_stats(
        self, deployment: Deployment, items: Sequence[Mapping[str, Any]]
    ) -> int:
        """Fold prediction-statistics items; return their rows."""
        with self._faults():
            return fold_prediction_stats(self._conn, deployment, items)

    def fold_actuals(self, deployment: Deployment, items: Sequence[Mapping[str, Any]]) -> int:
        """Fold actuals; return their rows."""
        with self._faults():
            return fold_actuals(self._conn, deployment, items)

    def fold_custom_metric(
        self,
        deployment: Deployment,
        metric_id: str,
        model_id: str | None,
        buckets: Sequence[Mapping[str, Any]],
    ) -> int:
        """Fold custom-metric buckets; return the value count."""
        with self._faults():
            return fold_custom_metric(self._conn, deployment, metric_id, model_id, buckets)

    def add_status_job(self, deployment_id: str) -> str:
        """A new status job of the deployment; return its id."""
        with self._faults():
            return add_status_job(self._conn, deployment_id)

    def update_answer(self, answer: StoredAnswer) -> None:
        """Replace the stored answer of ``answer.key``."""
        update_answer(self._conn, answer)

    def remember_answers(self, answers: Sequence[StoredAnswer]) -> None:
        """Store the answers of keyed requests."""
        remember_answers(self._conn, answers)

    def remember_record_ids(self, ids_by_deployment: Mapping[str | None, Iterable[str]]) -> None:
        """Store the ids of the records just folded, by deployment."""
        remember_record_ids(self._conn, ids_by_deployment)
