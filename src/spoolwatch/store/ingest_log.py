"""What ingestion remembers besides the aggregates: answers by Idempotency-Key, record ids,
actuals' upload statuses, and the pruning of old dedupe state.

Every writer here runs inside the caller's write transaction, next to the fold it belongs
to, so a request's answer, its record ids and its statistics commit together. A key's row
may also record the progress of a request folded in slices (``status`` :data:`IN_PROGRESS`,
``body`` ``{"done": items folded, "rows": rows so far}``): see
:mod:`spoolwatch.server.group_commit`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from spoolwatch.store import schema
from spoolwatch.store.base import Store
from spoolwatch.store.record_ids import known_record_ids
from spoolwatch.store.sql import rows_in

__all__ = [
    "IN_PROGRESS",
    "StoredAnswer",
    "add_status_job",
    "ingested_record_ids",
    "prune_ingest_log",
    "remember_answers",
    "remember_record_ids",
    "status_job_deployment",
    "stored_answers",
    "update_answer",
]

#: ``status`` of a key whose request is being folded in slices (HTTP 102 Processing).
IN_PROGRESS = 102


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer remembered for an Idempotency-Key (or a sliced request's progress)."""

    key: str
    path: str
    status: int
    body: dict[str, Any]
    location: str | None


def stored_answers(conn: Connection, keys: Iterable[str]) -> dict[str, StoredAnswer]:
    """The stored answers of those ``keys`` that have one."""
    unique = list(dict.fromkeys(keys))
    sql = 'SELECT "key", path, status, body, location FROM idempotency_keys WHERE "key" IN {keys}'
    return {
        row[0]: StoredAnswer(row[0], row[1], row[2], orjson.loads(row[3]), row[4])
        for row in rows_in(conn, sql, (), unique)
    }


def _insert_ignoring_repeats(
    conn: Connection, table: Any, rows: Sequence[Mapping[str, Any]]
) -> None:
    # A key or record id inserted by another process between our read and our write (only
    # possible across deployments, which hold different locks) must not fail the whole
    # group: the row that exists already says the same thing.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), list(rows))


def remember_answers(conn: Connection, answers: Sequence[StoredAnswer]) -> None:
    """Store the answers of requests that carried an Idempotency-Key."""
    if not answers:
        return
    now = time.time()
    rows = [
        {
            "key": a.key,
            "path": a.path,
            "status": a.status,
            "body": orjson.dumps(a.body).decode(),
            "location": a.location,
            "created_at": now,
        }
        for a in answers
    ]
    _insert_ignoring_repeats(conn, schema.idempotency_keys, rows)


def update_answer(conn: Connection, answer: StoredAnswer) -> None:
    """Overwrite a key's answer (a sliced request's progress, then its final answer)."""
    table = schema.idempotency_keys
    conn.execute(
        update(table)
        .where(table.c.key == answer.key)
        .values(
            status=answer.status,
            body=orjson.dumps(answer.body).decode(),
            location=answer.location,
        )
    )


def remember_record_ids(
    conn: Connection, ids_by_deployment: Mapping[str | None, Iterable[str]]
) -> None:
    """Store the ids of records just folded, by the deployment they went to."""
    now = time.time()
    rows = [
        {"record_id": record_id, "deployment_id": deployment_id, "created_at": now}
        for deployment_id, ids in ids_by_deployment.items()
        for record_id in ids
    ]
    if rows:
        _insert_ignoring_repeats(conn, schema.ingested_records, rows)


def add_status_job(conn: Connection, deployment_id: str) -> str:
    """Record a folded actuals upload; return the id its ``Location`` names."""
    job = uuid.uuid4().hex
    conn.execute(
        schema.status_jobs.insert().values(
            id=job, deployment_id=deployment_id, created_at=time.time()
        )
    )
    return job


def status_job_deployment(store: Store, job_id: str) -> str | None:
    """The deployment of an actuals upload, or ``None`` when the id is unknown."""
    table = schema.status_jobs
    with store.read() as conn:
        row = conn.execute(select(table.c.deployment_id).where(table.c.id == job_id)).first()
    return None if row is None else str(row[0])


def prune_ingest_log(store: Store, cutoff: float) -> int:
    """Delete idempotency keys and record ids created before ``cutoff`` (one transaction);
    return how many."""
    removed = 0
    with store.write() as conn:
        for table in (schema.idempotency_keys, schema.ingested_records):
            result = conn.execute(delete(table).where(table.c.created_at < cutoff))
            removed += int(result.rowcount or 0)
    return removed


def ingested_record_ids(store: Store, record_ids: Iterable[str]) -> set[str]:
    """The ids among ``record_ids`` already ingested, in any deployment (read-only)."""
    with store.read() as conn:
        return known_record_ids(conn, record_ids)
