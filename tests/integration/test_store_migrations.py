"""Migrations on SQLite and PostgreSQL: 3 (deployments.accuracy) upgrades a version-2
database, keeps its deployments, and runs again without changing anything; 4 converts a
version-3 database's JSON accuracy rows to the compact columns, answering the same; 5
repairs rows holding numbers that overflowed, keeping what is still exact; 6 gives the
tokens of a database without scopes the admin scope, and a migration missing below the
highest applied one still runs; 7 builds the hourly accuracy aggregates of a version-6
database's joined rows, answering as the same traffic ingested today; 9 counts a version-8
database's actuals without predictions, once."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy import delete, inspect, select, text

from spoolwatch.server.ingestion import IngestKind, Ingestor
from spoolwatch.server.outcomes import accuracy_report
from spoolwatch.server.periods import QueryPeriod
from spoolwatch.store import schema
from spoolwatch.store.base import open_store
from spoolwatch.store.deployment import AccuracySettings, Deployment
from spoolwatch.store.deployments import create_deployment, get_deployment
from spoolwatch.store.migrations import MIGRATIONS
from spoolwatch.store.tokens import TokenScope, create_token, token_scope
from tests.accuracy_reports import assert_same_answer
from tests.databases import empty_database

LATEST = MIGRATIONS[-1].version
OLD = "650a1b2c3d4e5f6a7b8c9d0e"
NEW = "650a1b2c3d4e5f6a7b8c9d10"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
ALL_VERSIONS = [m.version for m in MIGRATIONS]
LATEST = ALL_VERSIONS[-1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    with empty_database(request, tmp_path, request.param, "migrations") as url:
        yield url


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
    store = open_store(database_url)  # migrates to the latest
    try:
        with store.read() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("deployments")}
            versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert "accuracy" in columns
        assert sorted(versions) == ALL_VERSIONS

        assert sorted(versions) == list(range(1, LATEST + 1))
        old = get_deployment(store, OLD)
        assert old is not None and old.accuracy is None and old.name == "old"
        own = AccuracySettings("mae", 0.05, 0.3, 2.5)
        create_deployment(store, Deployment(NEW, "new", MODEL, "regression", accuracy=own))
        assert store.migrate() == LATEST
        assert store.migrate() == LATEST
        with store.read() as conn:
            again = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert sorted(again) == ALL_VERSIONS

        assert sorted(again) == list(range(1, LATEST + 1))
        new = get_deployment(store, NEW)
        assert new is not None and new.accuracy == own
    finally:
        store.close()


def test_fresh_database_gets_the_column_once(database_url: str) -> None:
    first = open_store(database_url)
    first.close()
    second = open_store(database_url)  # a second start: every migration is already applied
    try:
        assert second.migrate() == LATEST
        with second.read() as conn:
            columns = [c["name"] for c in inspect(conn).get_columns("deployments")]
        assert columns.count("accuracy") == 1
    finally:
        second.close()


# ------------------------------------------------------------------ migration 4 (accuracy)

_DEPLOYMENTS = {
    "650a1b2c3d4e5f6a7b8c9d01": ("binary", ["no", "yes"]),
    "650a1b2c3d4e5f6a7b8c9d02": ("multiclass", ["a", "b", "c"]),
    "650a1b2c3d4e5f6a7b8c9d03": ("regression", []),
}
_AT = 1795514400  # 2026-11-24 10:00 UTC
_DAY = QueryPeriod(1795478400, 1795478400 + 86400, 3600)


def _traffic(target_type: str, classes: list[str]) -> tuple[list[Any], list[Any]]:
    """Predictions (in the deployment's class order) and actuals of 150 rows."""
    rng = np.random.default_rng(len(classes))
    if target_type == "regression":
        predictions: list[Any] = np.round(rng.normal(0, 1, 150), 3).tolist()
        actuals: list[Any] = np.round(rng.normal(0, 1, 150), 3).tolist()
        return predictions, actuals
    raw = rng.uniform(0.05, 1, (150, len(classes)))
    predictions = np.round(raw / raw.sum(axis=1, keepdims=True), 6).tolist()
    return predictions, rng.choice(classes, 150).tolist()


def _v3_row(dep: str, i: int, prediction: Any, actual: Any) -> dict[str, Any]:
    # Rows 0-9 wait for their actual; 140-149 are actuals whose predictions never came.
    return {
        "deployment_id": dep,
        "association_id": f"r{i}",
        "model_id": MODEL if i < 140 else None,
        "predicted_at": _AT + i if i < 140 else None,
        "prediction": orjson.dumps(prediction).decode() if i < 140 else None,
        "actual": orjson.dumps(actual).decode() if i >= 10 else None,
        "actual_at": _AT + 3600 if i >= 10 else None,
        "was_acted_on": None,
    }


def _make_version_3(url: str) -> None:
    """A database as version 3 left it: accuracy rows with JSON predictions and actuals."""
    store = open_store(url)
    with store.write() as conn:
        conn.execute(text("DROP TABLE accuracy_rows"))
        conn.execute(
            text(
                "CREATE TABLE accuracy_rows (deployment_id VARCHAR(24) NOT NULL, "
                "association_id VARCHAR(200) NOT NULL, model_id VARCHAR(64), "
                "predicted_at BIGINT, prediction TEXT, actual TEXT, actual_at BIGINT, "
                "was_acted_on BOOLEAN, PRIMARY KEY (deployment_id, association_id))"
            )
        )
        conn.execute(
            text(
                "CREATE INDEX ix_accuracy_rows_predicted_at "
                "ON accuracy_rows (deployment_id, predicted_at)"
            )
        )
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version >= 4))
        old = sa.table("accuracy_rows", *(sa.column(c) for c in _v3_row("", 0, 0, 0)))
        for dep, (target_type, classes) in _DEPLOYMENTS.items():
            predictions, actuals = _traffic(target_type, classes)
            pairs = enumerate(zip(predictions, actuals, strict=True))
            rows = [_v3_row(dep, i, p, a) for i, (p, a) in pairs]
            conn.execute(old.insert(), rows)
    for dep, (target_type, classes) in _DEPLOYMENTS.items():
        create_deployment(store, Deployment(dep, "old", MODEL, target_type, None, tuple(classes)))
    store.close()


def _ingested(url: str) -> None:
    """The same traffic as ``_make_version_3`` through today's ingestion."""
    store = open_store(url)
    ingestor = Ingestor(store)
    for dep, (target_type, classes) in _DEPLOYMENTS.items():
        create_deployment(store, Deployment(dep, "new", MODEL, target_type, None, tuple(classes)))
        predictions, actuals = _traffic(target_type, classes)
        for i, (prediction, actual) in enumerate(zip(predictions, actuals, strict=True)):
            if i < 140:
                stamp = datetime.fromtimestamp(_AT + i, UTC).isoformat()
                item = {"timestamp": stamp, "modelId": MODEL, "predictions": [prediction]}
                item.update(associationIds=[f"r{i}"], classNames=classes or None)
                ingestor.ingest(IngestKind.PREDICTION_INPUTS, dep, {"data": [item]})
            if i >= 10:
                body = {"data": [{"associationId": f"r{i}", "actualValue": actual}]}
                ingestor.ingest(IngestKind.ACTUALS, dep, body)
    store.close()


def _reports(url: str) -> dict[str, dict[str, Any]]:
    store = open_store(url)
    try:
        reports = {}
        for dep in _DEPLOYMENTS:
            deployment = get_deployment(store, dep)
            assert deployment is not None
            reports[dep] = accuracy_report(store, deployment, _DAY, None)
        return reports
    finally:
        store.close()


def test_version_3_json_accuracy_rows_are_converted_and_answer_the_same(
    database_url: str, tmp_path: Path
) -> None:
    _make_version_3(database_url)
    migrated = _reports(database_url)  # opening migrates
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    _ingested(fresh)
    expected = _reports(fresh)
    for dep, report in migrated.items():
        assert report["sampleSize"] == 130 and report["predictionsWithoutActuals"] == 10
        assert report["actualsWithoutPredictions"] == 10
        assert report["status"] == expected[dep]["status"]
        assert_same_answer(report["metrics"], expected[dep]["metrics"])
        assert_same_answer(report["buckets"], expected[dep]["buckets"])
    store = open_store(database_url)
    try:
        assert store.migrate() == LATEST
        with store.read() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("accuracy_rows")}
            tables = set(inspect(conn).get_table_names())
            indexes = {i["name"] for i in inspect(conn).get_indexes("accuracy_rows")}
    finally:
        store.close()
    assert {"predicted_value", "probabilities", "actual_label"} <= columns
    assert not {"prediction", "actual"} & columns and "accuracy_rows_v3" not in tables
    assert indexes == {"ix_accuracy_rows_predicted_at"}


# ------------------------------------------------------------------ migration 6 (token scopes)


def test_tokens_of_a_database_without_scopes_become_admin(database_url: str) -> None:
    store = open_store(database_url)
    _, old = create_token(store, "old-agent")
    with store.write() as conn:
        conn.execute(text("ALTER TABLE api_tokens DROP COLUMN scope"))
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version >= 6))
    store.close()
    store = open_store(database_url)  # migration 6 runs
    try:
        assert token_scope(store, old) is TokenScope.ADMIN
        _, agent = create_token(store, "agent", TokenScope.INGEST)
        assert token_scope(store, agent) is TokenScope.INGEST
        assert store.migrate() == LATEST
        with store.read() as conn:
            columns = [c["name"] for c in inspect(conn).get_columns("api_tokens")]
        assert columns.count("scope") == 1
    finally:
        store.close()


def test_a_migration_missing_below_the_highest_applied_one_still_runs(database_url: str) -> None:
    store = open_store(database_url)
    with store.write() as conn:  # as if migration 3 came from a branch merged after 4 and 6
        conn.execute(text("ALTER TABLE deployments DROP COLUMN accuracy"))
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version == 3))
    store.close()
    store = open_store(database_url)
    try:
        with store.read() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("deployments")}
            versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert "accuracy" in columns and sorted(versions) == ALL_VERSIONS
    finally:
        store.close()


# ------------------------------------------------------------------ migration 5 (values)

_DEP5 = "650a1b2c3d4e5f6a7b8c9d05"
_HOUR = 1795514400  # 2026-11-24 10:00 UTC


def _health(*milliseconds: float) -> str:
    from spoolwatch.monitoring.health import ServiceHealth

    health = ServiceHealth()
    for ms in milliseconds:
        health.add_request(num_predictions=2, execution_time_ms=ms, timestamp=_HOUR + 60)
    return orjson.dumps(health.to_dict()).decode()  # an infinite sum is written as null


def _make_version_4_with_absurd_rows(url: str, dialect: str) -> None:
    """A database as version 4 left it after absurd values were reported."""
    store = open_store(url)
    create_deployment(store, Deployment(_DEP5, "values", MODEL, "regression"))
    empty = orjson.dumps({"features": {}, "target": None}).decode()
    key = {"deployment_id": _DEP5, "model_id": MODEL}
    with store.write() as conn:
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version >= 5))
        conn.execute(
            schema.service_hourly.insert(),
            [
                # two 1e308 ms requests: the sum overflowed to null
                {
                    **key,
                    "hour": _HOUR,
                    "requests": 3,
                    "predictions": 6,
                    "health": _health(5.0, 1e308, 1e308),
                },
                # one: finite, but its histogram holds a value beyond the bounds
                {
                    **key,
                    "hour": _HOUR + 3600,
                    "requests": 1,
                    "predictions": 2,
                    "health": _health(1e308),
                },
                {
                    **key,
                    "hour": _HOUR + 7200,
                    "requests": 2,
                    "predictions": 4,
                    "health": _health(5.0, 7.0),
                },
            ],
        )
        drift = [
            {
                **key,
                "hour": _HOUR,
                "rows": 2,
                "prediction_rows": 2,
                "prediction_sum": math.inf,
                "aggregate": empty,
            },
            {
                **key,
                "hour": _HOUR + 3600,
                "rows": 2,
                "prediction_rows": 2,
                "prediction_sum": 3.0,
                "aggregate": empty,
            },
        ]
        if dialect == "postgresql":  # SQLite cannot store NaN (it would be NULL)
            drift.append(
                {
                    **key,
                    "hour": _HOUR + 7200,
                    "rows": 1,
                    "prediction_rows": 1,
                    "prediction_sum": math.nan,
                    "aggregate": empty,
                }
            )
        conn.execute(schema.drift_hourly.insert(), drift)
        metric = {"deployment_id": _DEP5, "metric_id": "m1", "model_id": "", "count": 2}
        conn.execute(
            schema.custom_metric_hourly.insert(),
            [
                {
                    **metric,
                    "hour": _HOUR,
                    "value_sum": math.inf,
                    "last_value": 1e308,
                    "last_at": _HOUR + 60.0,
                },
                {
                    **metric,
                    "hour": _HOUR + 3600,
                    "value_sum": 3.0,
                    "last_value": 2.0,
                    "last_at": _HOUR + 3660.0,
                },
            ],
        )
        conn.execute(
            schema.accuracy_rows.insert(),
            [
                {
                    "deployment_id": _DEP5,
                    "association_id": "a1",
                    "model_id": MODEL,
                    "predicted_at": _HOUR,
                    "predicted_value": math.inf,
                    "actual_label": "1.0",
                    "actual_value": -math.inf,
                },
                {
                    "deployment_id": _DEP5,
                    "association_id": "a2",
                    "model_id": MODEL,
                    "predicted_at": _HOUR,
                    "predicted_value": 2.0,
                    "actual_label": "3.0",
                    "actual_value": 3.0,
                },
            ],
        )
    store.close()


def _values_tables(url: str) -> dict[str, list[Any]]:
    store = open_store(url)
    try:
        with store.read() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))]
                for t in (
                    schema.service_hourly,
                    schema.drift_hourly,
                    schema.custom_metric_hourly,
                    schema.accuracy_rows,
                )
            }
    finally:
        store.close()


def test_version_4_rows_holding_overflowed_numbers_are_repaired_once(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from spoolwatch.store import aggregate_rows

    dialect = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    _make_version_4_with_absurd_rows(database_url, dialect)
    with caplog.at_level(logging.WARNING, logger="spoolwatch.store.values_migration"):
        tables = _values_tables(database_url)  # opening migrates
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "service_hourly: repaired 2 rows" in logged and "deleted 1" in logged

    service = {row[2]: row for row in tables["service_hourly"]}
    for hour, requests in ((_HOUR, 3), (_HOUR + 3600, 1)):
        health = orjson.loads(service[hour][5])
        assert service[hour][3] == requests and health["requests"] == requests  # exact counts
        assert health["executionTime"]["count"] == 0  # the overflowed times are dropped
    assert orjson.loads(service[_HOUR + 7200][5])["executionTime"]["sum"] == 12.0  # untouched
    drift = {row[2]: row[3:6] for row in tables["drift_hourly"]}
    assert drift[_HOUR] == (2, 0, 0.0) and drift[_HOUR + 3600] == (2, 2, 3.0)
    if dialect == "postgresql":
        assert drift[_HOUR + 7200] == (1, 0, 0.0)
    assert [row[3] for row in tables["custom_metric_hourly"]] == [_HOUR + 3600]
    accuracy = {row[1]: (row[4], row[7]) for row in tables["accuracy_rows"]}
    assert accuracy == {"a1": (None, None), "a2": (2.0, 3.0)}

    aggregate_rows._warned.clear()
    store = open_store(database_url)
    try:
        assert store.migrate() == LATEST
        deployment = get_deployment(store, _DEP5)
        assert deployment is not None
        from spoolwatch.server.query import service_stats
        from spoolwatch.server.settings import ServerSettings

        with caplog.at_level(logging.WARNING, logger="spoolwatch.store.aggregate_rows"):
            stats = service_stats(store, deployment, _DAY, None, ServerSettings())
        assert stats["metrics"]["totalRequests"] == 6
        assert stats["metrics"]["executionTime"] == pytest.approx(6.0)
        assert not [r for r in caplog.records if r.name == "spoolwatch.store.aggregate_rows"]
    finally:
        store.close()
    assert _values_tables(database_url) == tables  # a second start changes nothing


# ------------------------------------------------------------------ migration 7 (accuracy_hourly)


def _make_version_6(url: str) -> dict[str, dict[str, Any]]:
    """A database as version 6 left it: joined accuracy rows, no hourly aggregates; the
    reports the same traffic gives when ingested today."""
    _ingested(url)
    expected = _reports(url)
    store = open_store(url)
    with store.write() as conn:
        conn.execute(text("DROP TABLE accuracy_hourly"))
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version >= 7))
    store.close()
    return expected


def test_version_6_joined_rows_get_their_accuracy_aggregates_built(database_url: str) -> None:
    expected = _make_version_6(database_url)
    migrated = _reports(database_url)  # opening migrates
    for dep, report in migrated.items():
        assert report["sampleSize"] == 130 and report["predictionsWithoutActuals"] == 10
        assert report["actualsWithoutPredictions"] == 10
        assert_same_answer(report, expected[dep])
    store = open_store(database_url)
    try:
        assert store.migrate() == LATEST
        with store.read() as conn:
            hours = conn.execute(select(schema.accuracy_hourly.c.deployment_id)).all()
    finally:
        store.close()
    assert len(hours) == len(_DEPLOYMENTS)  # the traffic's hour, once per deployment


# ------------------------------------------------------------------ migration 9 (orphans)


def test_version_8_actuals_without_predictions_get_counted_once(database_url: str) -> None:
    _ingested(database_url)
    expected = _reports(database_url)
    store = open_store(database_url)
    with store.write() as conn:
        conn.execute(text("DROP TABLE accuracy_orphans"))
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version >= 9))
    store.close()
    migrated = _reports(database_url)  # opening migrates
    for dep, report in migrated.items():
        assert report["actualsWithoutPredictions"] == 10
        assert_same_answer(report, expected[dep])
    store = open_store(database_url)
    try:
        with store.write() as conn:  # applied again by hand: the count is replaced, not added
            conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version == 9))
        assert store.migrate() == LATEST
        with store.read() as conn:
            counts = conn.execute(select(schema.accuracy_orphans.c.actuals)).scalars().all()
    finally:
        store.close()
    assert counts == [10] * len(_DEPLOYMENTS)
