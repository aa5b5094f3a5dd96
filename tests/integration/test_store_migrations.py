"""Migration 3 (deployments.accuracy) on SQLite and PostgreSQL: upgrades a version-2
database, keeps its deployments, and runs again without changing anything."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, inspect, select, text

from spoolwatch.store import schema
from spoolwatch.store.base import open_store
from spoolwatch.store.deployments import (
    AccuracySettings,
    Deployment,
    create_deployment,
    get_deployment,
)

OLD = "650a1b2c3d4e5f6a7b8c9d0e"
NEW = "650a1b2c3d4e5f6a7b8c9d10"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'spoolwatch.db'}"
        return
    base: str = request.getfixturevalue("postgres_url")
    import psycopg

    name = f"spoolwatch_migrations_{uuid.uuid4().hex[:10]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _make_version_2(url: str) -> None:
    """A database as version 2 left it: no accuracy column, one deployment."""
    store = open_store(url)
    with store.write() as conn:
        conn.execute(text("ALTER TABLE deployments DROP COLUMN accuracy"))
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version >= 3))
        conn.execute(
            text(
                "INSERT INTO deployments (id, name, model_id, target_type, class_names, "
                "created_at) VALUES (:id, 'old', :model, 'regression', '[]', 1.0)"
            ),
            {"id": OLD, "model": MODEL},
        )
    store.close()


def test_version_2_database_is_upgraded_and_migrating_again_changes_nothing(
    database_url: str,
) -> None:
    _make_version_2(database_url)
    store = open_store(database_url)  # migrates to 4
    try:
        with store.read() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("deployments")}
            versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert "accuracy" in columns
        assert sorted(versions) == [1, 2, 3, 4]
        old = get_deployment(store, OLD)
        assert old is not None and old.accuracy is None and old.name == "old"
        own = AccuracySettings("mae", 0.05, 0.3, 2.5)
        create_deployment(store, Deployment(NEW, "new", MODEL, "regression", accuracy=own))
        assert store.migrate() == 4
        assert store.migrate() == 4
        with store.read() as conn:
            again = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert sorted(again) == [1, 2, 3, 4]
        new = get_deployment(store, NEW)
        assert new is not None and new.accuracy == own
    finally:
        store.close()


def test_fresh_database_gets_the_column_once(database_url: str) -> None:
    first = open_store(database_url)
    first.close()
    second = open_store(database_url)  # a second start: every migration is already applied
    try:
        assert second.migrate() == 4
        with second.read() as conn:
            columns = [c["name"] for c in inspect(conn).get_columns("deployments")]
        assert columns.count("accuracy") == 1
    finally:
        second.close()
