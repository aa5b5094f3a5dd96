"""Record ids the store has ingested: what lets a redelivered record be dropped by id.

Ingestion writes one row per new record id in the same transaction as the fold
(:func:`spoolwatch.store.ingest_log.remember_record_ids`, called by the service's group
commit); rows older than the dedupe retention are pruned.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from spoolwatch.store.sql import rows_in

__all__ = ["known_record_ids"]


def known_record_ids(conn: Connection, record_ids: Iterable[str]) -> set[str]:
    """The ids among ``record_ids`` already ingested, into any deployment."""
    unique = list(dict.fromkeys(record_ids))
    sql = "SELECT record_id FROM ingested_records WHERE record_id IN {keys}"
    return {row[0] for row in rows_in(conn, sql, (), unique)}
