"""Empty databases for tests: a SQLite file, or a fresh PostgreSQL database dropped after use."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from spoolwatch.store.base import Store, open_store


@contextmanager
def new_postgres_database(base_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new database beside ``base_url``'s, dropped (forcibly) on exit."""
    import psycopg

    name = f"spoolwatch_{prefix}_{uuid.uuid4().hex[:10]}"
    admin = base_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def empty_database(
    request: pytest.FixtureRequest, directory: Path, kind: str, prefix: str
) -> Iterator[str]:
    """The URL of an empty ``kind`` ("sqlite" or "postgresql") database; PostgreSQL's
    comes from the ``postgres_url`` fixture (so it skips or fails as that one does)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'spoolwatch.db'}"
        return
    with new_postgres_database(request.getfixturevalue("postgres_url"), prefix) as url:
        yield url


@contextmanager
def empty_store(
    request: pytest.FixtureRequest, directory: Path, kind: str, prefix: str
) -> Iterator[Store]:
    """A migrated store on an :func:`empty_database`, closed on exit."""
    with empty_database(request, directory, kind, prefix) as url:
        store = open_store(url)
        try:
            yield store
        finally:
            store.close()
