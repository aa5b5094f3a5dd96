"""Ingestion without HTTP: validate a DataRobot ingestion body, fold it, remember the answer.

:class:`Ingestor` is what the REST routes call and what an embedded sink can call directly
(``spoolwatch.sinks.store``). One call is one transaction: the idempotency key, the record
ids and the folded statistics are committed together, so a retry either finds the stored
answer (and changes nothing) or folds exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, delete, select

from spoolwatch.errors import InvalidRecord
from spoolwatch.server import schemas
from spoolwatch.store import schema
from spoolwatch.store.base import Store
from spoolwatch.store.deployments import Deployment, get_deployment
from spoolwatch.store.folding import (
    fold_actuals,
    fold_custom_metric,
    fold_prediction_inputs,
    fold_service_stats,
    insert_event,
)
from spoolwatch.store.record_ids import known_record_ids
from spoolwatch.store.stats_folding import fold_prediction_stats

__all__ = ["IngestError", "IngestKind", "IngestResult", "Ingestor"]

logger = logging.getLogger(__name__)


#: How long idempotency keys and record ids are kept (the longest spool retention, SQS's).
DEDUPE_RETENTION_SECONDS = 14 * 24 * 3600
_PRUNE_EVERY_SECONDS = 600.0


class IngestKind(StrEnum):
    """The ingestion endpoints, named by their DataRobot path segment."""

    PREDICTION_REQUESTS = "predictionRequests"
    PREDICTION_INPUTS = "predictionInputs"
    PREDICTION_STATS = "predictionStats"
    ACTUALS = "actuals"
    CUSTOM_METRIC = "customMetrics"
    REMOTE_EVENTS = "remoteEvents"


_MODELS: dict[IngestKind, type[BaseModel]] = {
    IngestKind.PREDICTION_REQUESTS: schemas.PredictionRequestsBody,
    IngestKind.PREDICTION_INPUTS: schemas.PredictionInputsBody,
    IngestKind.PREDICTION_STATS: schemas.PredictionStatsBody,
    IngestKind.ACTUALS: schemas.ActualsBody,
    IngestKind.CUSTOM_METRIC: schemas.CustomMetricBody,
    IngestKind.REMOTE_EVENTS: schemas.RemoteEventBody,
}


class IngestError(Exception):
    """The request cannot be ingested: ``status`` 404 (unknown deployment) or 422 (invalid)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The answer to an ingestion request: 202 with a JSON body (and ``Location`` for
    actuals). ``duplicate`` is true when nothing was folded because it was a repeat."""

    status: int
    body: dict[str, Any]
    location: str | None = None
    duplicate: bool = False
    rows: int = 0
    deployment_id: str | None = None
    kind: IngestKind | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _invalid(exc: ValidationError) -> IngestError:
    errors = [
        {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return IngestError(422, errors)


class Ingestor:
    """Validates and folds ingestion bodies into a :class:`Store`. Thread-safe.

    ``on_ingested`` is called after each commit (metrics, alerts); it must not raise.
    Deployments are cached for ``cache_seconds`` so a busy stream does not re-read and
    re-parse the baseline per request.
    """

    def __init__(
        self,
        store: Store,
        *,
        cache_seconds: float = 5.0,
        on_ingested: Callable[[IngestResult], None] | None = None,
        retention_seconds: float = DEDUPE_RETENTION_SECONDS,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self.on_ingested = on_ingested
        self.retention_seconds = retention_seconds
        self._cache: dict[str, tuple[float, Deployment | None]] = {}
        self._lock = threading.Lock()
        self._next_prune = time.monotonic() + _PRUNE_EVERY_SECONDS

    def prune(self, *, now: float | None = None) -> int:
        """Forget idempotency keys and record ids older than the retention; return how many.

        Redelivery comes within the spool's retention (SQS keeps messages 14 days at most),
        so older dedupe state only costs space.
        """
        cutoff = (time.time() if now is None else now) - self.retention_seconds
        removed = 0
        with self.store.write() as conn:
            for table in (schema.idempotency_keys, schema.ingested_records):
                result = conn.execute(delete(table).where(table.c.created_at < cutoff))
                removed += int(result.rowcount or 0)
        return removed

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
        with self.store.read() as conn:
            return known_record_ids(conn, record_ids)

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

    def ingest(
        self,
        kind: IngestKind | str,
        deployment_id: str | None,
        body: bytes | Mapping[str, Any],
        *,
        metric_id: str | None = None,
        idempotency_key: str | None = None,
        record_ids: Sequence[str] = (),
    ) -> IngestResult:
        """Validate, fold and answer one ingestion request (see the module doc).

        ``deployment_id`` is ``None`` only for ``remoteEvents`` (it is read from the body).
        Raises :class:`IngestError` (404/422); store outages raise ``StoreUnavailable``.
        """
        kind = IngestKind(kind)
        _check_lengths(idempotency_key, record_ids, metric_id)
        deployment = self.deployment(deployment_id) if deployment_id is not None else None
        raw = self._parse(body)
        model = _MODELS[kind]
        try:
            model.model_validate(raw)
        except ValidationError as exc:
            raise _invalid(exc) from None
        if kind is IngestKind.REMOTE_EVENTS and raw.get("deploymentId"):
            deployment = self.deployment(str(raw["deploymentId"]))
        if kind is IngestKind.CUSTOM_METRIC and not metric_id:
            raise IngestError(422, "customMetrics needs a metric id in the path")
        try:
            result = self._commit(kind, deployment, raw, metric_id, idempotency_key, record_ids)
        except InvalidRecord as exc:
            # Found while folding (the transaction was rolled back): name the field like
            # a validation error.
            parts = exc.field.split(".") if exc.field else []
            loc: list[str | int] = ["body", *(int(p) if p.isdigit() else p for p in parts)]
            raise IngestError(422, [{"loc": loc, "msg": str(exc), "type": "value_error"}]) from None
        self._maybe_prune()
        if self.on_ingested is not None and not result.duplicate:
            try:
                self.on_ingested(result)
            except Exception:  # a failing hook must never fail an accepted request
                logger.exception("post-ingestion hook failed")
        return result

    @staticmethod
    def _parse(body: bytes | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(body, Mapping):
            return dict(body)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise IngestError(
                422, [{"loc": ["body"], "msg": f"invalid JSON: {exc}", "type": "json_invalid"}]
            ) from None
        if not isinstance(parsed, dict):
            raise IngestError(
                422,
                [{"loc": ["body"], "msg": "the body must be a JSON object", "type": "dict_type"}],
            )
        # NUL arrives only as the \u0000 escape; the walk runs only when one is present.
        found = schemas.nul_field(parsed) if b"\\u0000" in body else None
        if found is not None:
            msg = f"{'.'.join(map(str, found))}: {schemas.NUL_MESSAGE}"
            raise IngestError(422, [{"loc": ["body", *found], "msg": msg, "type": "value_error"}])
        return parsed

    def _commit(
        self,
        kind: IngestKind,
        deployment: Deployment | None,
        raw: dict[str, Any],
        metric_id: str | None,
        key: str | None,
        record_ids: Sequence[str],
    ) -> IngestResult:
        path = f"{deployment.id if deployment else '-'}/{kind.value}/{metric_id or ''}"
        with self.store.write() as conn:
            self.store.lock_deployment(conn, deployment.id if deployment else "-events-")
            if key:
                replay = _replay(conn, key, path)
                if replay is not None:
                    return replay
            new_ids = _new_record_ids(conn, record_ids)
            if record_ids and not new_ids:
                result = IngestResult(
                    202,
                    schemas.IngestAccepted(message="duplicate", duplicate=True).model_dump(),
                    duplicate=True,
                    deployment_id=deployment.id if deployment else None,
                    kind=kind,
                )
            else:
                if record_ids and len(new_ids) < len(set(record_ids)):
                    raw = _without_repeats(kind, raw, record_ids, set(new_ids))
                result = self._fold(conn, kind, deployment, raw, metric_id)
            if key:
                conn.execute(
                    schema.idempotency_keys.insert().values(
                        key=key,
                        path=path,
                        status=result.status,
                        body=orjson.dumps(result.body).decode(),
                        location=result.location,
                        created_at=time.time(),
                    )
                )
            if new_ids:
                now = time.time()
                conn.execute(
                    schema.ingested_records.insert(),
                    [
                        {
                            "record_id": r,
                            "deployment_id": deployment.id if deployment else None,
                            "created_at": now,
                        }
                        for r in new_ids
                    ],
                )
        return result

    def _fold(
        self,
        conn: Connection,
        kind: IngestKind,
        deployment: Deployment | None,
        raw: dict[str, Any],
        metric_id: str | None,
    ) -> IngestResult:
        location = None
        if kind is IngestKind.REMOTE_EVENTS:
            insert_event(conn, raw)
            rows = 1
        else:
            assert deployment is not None
            rows = _fold_for(conn, kind, deployment, raw, metric_id)
        if kind is IngestKind.ACTUALS:
            assert deployment is not None
            job = uuid.uuid4().hex
            conn.execute(
                schema.status_jobs.insert().values(
                    id=job, deployment_id=deployment.id, created_at=time.time()
                )
            )
            location = f"/api/v2/status/{job}/"
        body = schemas.IngestAccepted(rows=rows).model_dump()
        return IngestResult(
            202,
            body,
            location=location,
            rows=rows,
            deployment_id=deployment.id if deployment else None,
            kind=kind,
        )


def _fold_for(
    conn: Connection,
    kind: IngestKind,
    deployment: Deployment,
    raw: dict[str, Any],
    metric_id: str | None,
) -> int:
    if kind is IngestKind.PREDICTION_REQUESTS:
        return fold_service_stats(conn, deployment, raw["data"])
    if kind is IngestKind.PREDICTION_INPUTS:
        return fold_prediction_inputs(
            conn,
            deployment,
            raw["data"],
            skip_drift=bool(raw.get("skipDriftTracking")),
            skip_accuracy=bool(raw.get("skipAccuracyTracking")),
        )
    if kind is IngestKind.PREDICTION_STATS:
        return fold_prediction_stats(conn, deployment, raw["data"])
    if kind is IngestKind.ACTUALS:
        return fold_actuals(conn, deployment, raw["data"])
    assert metric_id is not None
    return fold_custom_metric(conn, deployment, metric_id, raw.get("modelId"), raw["buckets"])


def _too_long(loc: list[str], limit: int) -> IngestError:
    msg = f"at most {limit} characters"
    return IngestError(422, [{"loc": loc, "msg": msg, "type": "string_too_long"}])


def _check_lengths(key: str | None, record_ids: Sequence[str], metric_id: str | None) -> None:
    """Refuse what the store's columns cannot hold (PostgreSQL would fail the transaction)."""
    if key is not None and len(key) > 200:
        raise _too_long(["header", "Idempotency-Key"], 200)
    if any(len(r) > 200 for r in record_ids):
        raise _too_long(["header", "X-Spoolwatch-Record-Ids"], 200)
    if metric_id is not None and len(metric_id) > schemas.MODEL_ID_MAX:
        raise _too_long(["path", "metric_id"], schemas.MODEL_ID_MAX)


def _replay(conn: Connection, key: str, path: str) -> IngestResult | None:
    row = conn.execute(
        select(schema.idempotency_keys).where(schema.idempotency_keys.c.key == key)
    ).first()
    if row is None:
        return None
    if row.path != path:
        raise IngestError(
            422,
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "this key was used for a different request",
                    "type": "idempotency_conflict",
                }
            ],
        )
    return IngestResult(row.status, orjson.loads(row.body), location=row.location, duplicate=True)


#: Kinds whose body holds one ``data`` item per record, in the order of the record ids.
_ONE_ITEM_PER_RECORD = {
    IngestKind.PREDICTION_REQUESTS,
    IngestKind.PREDICTION_INPUTS,
    IngestKind.PREDICTION_STATS,
}


def _without_repeats(
    kind: IngestKind, raw: dict[str, Any], record_ids: Sequence[str], new: set[str]
) -> dict[str, Any]:
    """The body without the items of records already ingested, where items map to records.

    A re-sent batch may be merged differently from the first time (new records joined an
    old request), so the key differs but some record ids repeat. Actuals are stored by
    association id and fold idempotently anyway; custom-metric buckets and events cannot be
    told apart by record, so those are folded whole (and logged).
    """
    data = raw.get("data")
    if kind in _ONE_ITEM_PER_RECORD and isinstance(data, list) and len(data) == len(record_ids):
        kept = [item for item, rid in zip(data, record_ids, strict=True) if rid in new]
        return {**raw, "data": kept}
    if kind is not IngestKind.ACTUALS:
        logger.warning(
            "request repeats %d of %d record ids; folding it whole",
            len(set(record_ids)) - len(new),
            len(set(record_ids)),
        )
    return raw


def _new_record_ids(conn: Connection, record_ids: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(record_ids))
    if not unique:
        return []
    seen = known_record_ids(conn, unique)
    return [r for r in unique if r not in seen]
