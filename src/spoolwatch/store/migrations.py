"""Versioned migrations, applied in order on start; each runs once (table ``schema_version``).

Every migration not recorded yet runs, in version order, even one numbered below the
highest applied (a migration added on another line of development). Running them again is
a no-op. On PostgreSQL an advisory lock keeps two services starting
at the same time from applying the same migration twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, select, text

from spoolwatch.store import schema
from spoolwatch.store.accuracy_migration import compact_accuracy_rows, stored_deployments
from spoolwatch.store.accuracy_rebuild import build_accuracy_hourly, count_orphan_actuals
from spoolwatch.store.values_migration import repair_values

__all__ = ["MIGRATIONS", "Migration", "current_version", "migrate"]

logger = logging.getLogger(__name__)

_LOCK_ID = 0x5F00_1A7C  # arbitrary, fixed: the advisory lock that serialises migrations


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: ``version`` is applied after every smaller version."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _initial(conn: Connection) -> None:
    tables = [t for t in schema.metadata.sorted_tables if t.name != "schema_version"]
    schema.metadata.create_all(conn, tables=tables)


def _indexes(conn: Connection) -> None:
    # Pruning of dedupe state scans by age; accuracy and events are read by time per deployment.
    for name, table, columns in (
        ("ix_ingested_records_created_at", "ingested_records", "created_at"),
        ("ix_idempotency_keys_created_at", "idempotency_keys", "created_at"),
        ("ix_accuracy_rows_predicted_at", "accuracy_rows", "deployment_id, predicted_at"),
        ("ix_events_deployment_at", "events", "deployment_id, at"),
    ):
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})"))


def _deployment_accuracy(conn: Connection) -> None:
    # Databases created at version 1 since this column joined the schema already have it.
    columns = {c["name"] for c in inspect(conn).get_columns("deployments")}
    if "accuracy" not in columns:
        conn.execute(text("ALTER TABLE deployments ADD COLUMN accuracy TEXT"))


def _token_scopes(conn: Connection) -> None:
    # Tokens made before scopes could do everything: they stay admin. A database created
    # since the column joined the schema already has it.
    columns = {c["name"] for c in inspect(conn).get_columns("api_tokens")}
    if "scope" not in columns:
        conn.execute(
            text("ALTER TABLE api_tokens ADD COLUMN scope VARCHAR(16) NOT NULL DEFAULT 'admin'")
        )


def _compact_accuracy(conn: Connection) -> None:
    compact_accuracy_rows(conn)


def _repair_values(conn: Connection) -> None:
    repair_values(conn)


def _accuracy_hourly(conn: Connection) -> None:
    written = build_accuracy_hourly(conn, stored_deployments(conn))
    logger.info("built %d hourly accuracy aggregates from the stored rows", written)


def _accuracy_predicted(conn: Connection) -> None:
    # An hour's predictions are this column plus the JSON's count, so the aggregates built
    # by migration 7 stay right as they are. A table created since has the column.
    columns = {c["name"] for c in inspect(conn).get_columns("accuracy_hourly")}
    if "predicted" not in columns:
        conn.execute(
            text("ALTER TABLE accuracy_hourly ADD COLUMN predicted BIGINT NOT NULL DEFAULT 0")
        )


def _accuracy_orphans(conn: Connection) -> None:
    counted = count_orphan_actuals(conn)
    logger.info("counted the actuals without predictions of %d deployments", counted)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema: tokens, deployments, hourly aggregates, events, fleet", _initial),
    Migration(2, "indexes for dedupe pruning, accuracy and events by time", _indexes),
    Migration(
        3, "per-deployment accuracy settings (deployments.accuracy, JSON)", _deployment_accuracy
    ),
    Migration(
        4,
        "compact accuracy rows: predictions and actuals as numbers, not JSON",
        _compact_accuracy,
    ),
    Migration(
        5,
        "repair aggregates holding non-finite or out-of-bounds numbers (records.bounds)",
        _repair_values,
    ),
    Migration(6, "token scopes (api_tokens.scope: ingest, read, admin)", _token_scopes),
    Migration(
        7,
        "hourly accuracy aggregates (accuracy_hourly) built from the joined rows",
        _accuracy_hourly,
    ),
    Migration(
        8,
        "accuracy_hourly.predicted: new predictions counted without reading the aggregate",
        _accuracy_predicted,
    ),
    Migration(
        9,
        "accuracy_orphans: each deployment's count of actuals without predictions, kept",
        _accuracy_orphans,
    ),
)


def current_version(conn: Connection) -> int:
    """The highest applied migration (0 for an empty database)."""
    if not inspect(conn).has_table("schema_version"):
        return 0
    rows = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    return max(rows, default=0)


def migrate(engine: Engine) -> int:
    """Apply every pending migration; return the schema version afterwards."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
        schema.schema_version.create(conn, checkfirst=True)
        applied = set(conn.execute(select(schema.schema_version.c.version)).scalars())
        for migration in MIGRATIONS:
            if migration.version in applied:
                continue
            logger.info("applying migration %d: %s", migration.version, migration.description)
            migration.apply(conn)
            conn.execute(
                schema.schema_version.insert().values(
                    version=migration.version,
                    description=migration.description,
                    applied_at=time.time(),
                )
            )
            applied.add(migration.version)
        conn.commit()
    return max(applied, default=0)
