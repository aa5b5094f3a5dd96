"""The store: one object over an engine, with short transactions for writers and readers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from spoolwatch.errors import ConfigError, TransientError
from spoolwatch.store.engine import create_engine
from spoolwatch.store.migrations import MIGRATIONS, current_version, migrate

__all__ = ["Store", "StoreUnavailable", "open_store"]

logger = logging.getLogger(__name__)


class StoreUnavailable(TransientError):
    """The database cannot be reached or is locked right now; retry later."""


class Store:
    """A migrated database. ``write()`` and ``read()`` hand out connections in a transaction.

    Thread-safe: every call takes its own pooled connection. On SQLite a write transaction
    starts with ``BEGIN IMMEDIATE`` (one writer at a time, no lock-upgrade deadlocks); on
    PostgreSQL, folds into the same deployment are serialised with a transaction-level
    advisory lock (:meth:`lock_deployment`), so read-modify-write of count arrays is safe.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._probe: Engine | None = None

    @property
    def url(self) -> str:
        """The database URL without its password."""
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> int:
        """Apply pending migrations; return the schema version."""
        try:
            return migrate(self.engine)
        except OperationalError as exc:
            raise self.unavailable(exc) from exc

    def unavailable(self, exc: OperationalError) -> StoreUnavailable:
        """The error to raise for a database fault: the database cannot serve right now."""
        return StoreUnavailable(f"database {self.url} is unavailable: {exc.orig}")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed when the block ends without error."""
        try:
            with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
        except OperationalError as exc:
            raise self.unavailable(exc) from exc
        except PoolTimeout as exc:
            raise StoreUnavailable(f"database {self.url} is busy: no free connection") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading."""
        try:
            with self.engine.connect() as conn:
                yield conn
                conn.rollback()
        except OperationalError as exc:
            raise self.unavailable(exc) from exc
        except PoolTimeout as exc:
            raise StoreUnavailable(f"database {self.url} is busy: no free connection") from exc

    def readiness(self, timeout: float = 2.0) -> tuple[str, str] | None:
        """Why the store cannot serve, or ``None`` when it can: a short reason that names no
        address or user (unauthenticated probes may see it), and the details for the log.

        On a connection of its own, outside the pool: a probe never waits for the pool's
        connections behind ingestion, and gives up after about ``timeout`` seconds.
        """
        try:
            with self._probe_engine(timeout).connect() as conn:
                conn.exec_driver_sql("SELECT 1")
                version = current_version(conn)
                conn.rollback()
        except SQLAlchemyError as exc:
            detail = f"database {self.url} is unavailable: {getattr(exc, 'orig', None) or exc}"
            return "the database is unavailable", detail
        latest = max(m.version for m in MIGRATIONS)
        if version < latest:
            reason = f"the database schema is at version {version}; this release needs {latest}"
            return reason, f"{reason} (database {self.url}; run spoolwatch db migrate)"
        return None

    def _probe_engine(self, timeout: float) -> Engine:
        if self._probe is None:
            if self.dialect == "postgresql":
                connect_args: dict[str, Any] = {"connect_timeout": max(1, round(timeout))}
            else:
                connect_args = {"timeout": timeout}  # sqlite3's busy timeout
            self._probe = sqlalchemy.create_engine(
                self.engine.url, poolclass=NullPool, connect_args=connect_args
            )
        return self._probe

    def lock_deployment(self, conn: Connection, deployment_id: str) -> None:
        """Serialise writers of one deployment until the transaction ends (PostgreSQL)."""
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:d))"), {"d": deployment_id})

    def lock_deployments(self, conn: Connection, deployment_ids: Iterable[str]) -> None:
        """Lock several deployments, in sorted order: two transactions that lock
        overlapping sets always lock them in the same order, so they cannot deadlock."""
        for deployment_id in sorted(set(deployment_ids)):
            self.lock_deployment(conn, deployment_id)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
        if self._probe is not None:
            self._probe.dispose()


def open_store(url: str | None = None, *, migrate_schema: bool = True) -> Store:
    """Open (and by default migrate) the store at ``url`` (default: the SQLite file)."""
    try:
        store = Store(create_engine(url))
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot open the database: {exc}") from exc
    if migrate_schema:
        store.migrate()
    return store
