"""Record ids the store has ingested: what lets a redelivered record be dropped by id.

Ingestion writes one row per new record id in the same transaction as the fold
(:func:`spoolwatch.store.ingest_log.remember_record_ids`, called by the service's group
commit); rows older than the dedupe retention are pruned.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from spoolwatch.store import schema

__all__ = ["known_record_ids"]

#: Ids per ``IN (...)`` query: below SQLite's historical 999-parameter limit.
_CHUNK = 500


def known_record_ids(conn: Connection, record_ids: Iterable[str]) -> set[str]:
    """The ids among ``record_ids`` already ingested, into any deployment."""
    unique = list(dict.fromkeys(record_ids))
    known: set[str] = set()
    table = schema.ingested_records
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        known.update(
            conn.execute(select(table.c.record_id).where(table.c.record_id.in_(chunk))).scalars()
        )
    return known
