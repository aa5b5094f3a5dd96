"""Plain SQL for the ingest path's lookups, SQLite and PostgreSQL alike.

A group commit runs a dozen small ``SELECT … WHERE key IN (…)`` statements; built with
SQLAlchemy's expression language each costs more CPU in building, cache-key generation and
parameter expansion than the database spends answering it. These helpers take SQL text
written with ``?`` placeholders, give it the driver's parameter style (``%s`` for psycopg)
and run it through :meth:`Connection.exec_driver_sql`, so the connection's transaction and
SQLAlchemy's translation of driver errors (``OperationalError`` for a lost or locked
database) stay as for any other statement. The texts are cached per dialect and list length.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection

__all__ = ["CHUNK", "hourly_rows", "in_list", "native", "rows_in"]

#: Keys per ``IN (…)``: below SQLite's historical limit of 999 parameters a statement.
CHUNK = 400


@functools.lru_cache(maxsize=256)
def native(dialect: str, sql: str) -> str:
    """``sql`` (``?`` placeholders) in the parameter style of ``dialect``'s driver."""
    return sql.replace("?", "%s") if dialect == "postgresql" else sql


@functools.lru_cache(maxsize=1024)
def in_list(dialect: str, width: int, count: int) -> str:
    """``(?, ?, …)`` of ``count`` values, or ``(VALUES (?, ?), …)`` of ``count`` rows of
    ``width`` values (row-value ``IN``: SQLite wants a subquery on its right), in the
    driver's parameter style."""
    if width == 1:
        text = "(" + ", ".join("?" * count) + ")"
    else:
        row = "(" + ", ".join("?" * width) + ")"
        text = "(VALUES " + ", ".join([row] * count) + ")"
    return native(dialect, text)


def rows_in(
    conn: Connection,
    sql: str,
    fixed: Sequence[Any],
    keys: Sequence[Any],
    *,
    width: int = 1,
) -> Iterator[Sequence[Any]]:
    """Run ``sql`` — ``?`` placeholders, the ``fixed`` parameters first, then ``{keys}``
    where the ``IN`` list goes — for ``keys`` in chunks; yield the rows found.

    ``keys`` are values (``width`` 1) or tuples of ``width`` values.
    """
    dialect = conn.dialect.name
    step = CHUNK // width
    for start in range(0, len(keys), step):
        chunk = keys[start : start + step]
        text = native(dialect, sql).format(keys=in_list(dialect, width, len(chunk)))
        flat = list(chunk) if width == 1 else [value for key in chunk for value in key]
        yield from conn.exec_driver_sql(text, (*fixed, *flat)).all()


def hourly_rows(
    conn: Connection,
    table: str,
    columns: str,
    deployment_id: str,
    keys: Iterable[tuple[str, int]],
) -> dict[tuple[str, int], Sequence[Any]]:
    """The rows of an hourly ``table`` (primary key deployment, model, hour) at ``keys``
    (model id, hour) of one deployment, by key; each row is ``model_id, hour, columns``.

    One statement per model with ``hour IN (…)``, which both databases answer with a lookup
    per key on the primary key. (A row-value ``(model_id, hour) IN (…)`` made SQLite walk
    every stored hour of the deployment, a read that grew with the deployment's age.)
    """
    hours: dict[str, list[int]] = {}
    for model_id, hour in keys:
        hours.setdefault(model_id, []).append(hour)
    sql = (
        f"SELECT model_id, hour, {columns} FROM {table} "
        "WHERE deployment_id = ? AND model_id = ? AND hour IN {keys}"
    )
    found: dict[tuple[str, int], Sequence[Any]] = {}
    for model_id, wanted in hours.items():
        for row in rows_in(conn, sql, (deployment_id, model_id), wanted):
            found[(row[0], row[1])] = row
    return found
