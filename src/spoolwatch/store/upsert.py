"""One upsert statement for SQLite and PostgreSQL alike, cached per table and column set."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["upsert"]


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    add: Iterable[str] = (),
    replace: Iterable[str] = (),
) -> None:
    """Insert ``rows``; on a primary-key conflict add the ``add`` columns and overwrite the
    ``replace`` columns (one executemany statement, SQLite and PostgreSQL alike)."""
    if not rows:
        return
    stmt = _upsert_statement(conn.dialect.name, table, tuple(add), tuple(replace))
    conn.execute(stmt, list(rows))


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect_name: str, table: Table, add: tuple[str, ...], replace: tuple[str, ...]
) -> Any:
    # Statements are immutable; building one per request costs more than folding 100 rows.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    updates: dict[str, Any] = {c: table.c[c] + stmt.excluded[c] for c in add}
    updates.update({c: stmt.excluded[c] for c in replace})
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates)
