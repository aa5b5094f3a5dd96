"""Compact accuracy rows on SQLite and PostgreSQL: what a prediction and an actual are stored
as, joins whichever arrives first, overwrites of re-sent predictions, and the metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from spoolwatch.server.ingestion import IngestKind, Ingestor
from spoolwatch.server.outcomes import accuracy_report
from spoolwatch.server.periods import QueryPeriod
from spoolwatch.store import schema
from spoolwatch.store.base import Store, open_store
from spoolwatch.store.deployments import Deployment, create_deployment
from tests.databases import empty_database

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
TS = "2026-11-24 10:00:00.000+0000"
DAY = QueryPeriod(1795478400, 1795478400 + 86400, 3600)  # 2026-11-24 UTC, hourly


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    with empty_database(request, tmp_path, request.param, "accuracy") as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    try:
        yield opened
    finally:
        opened.close()


def _deployment(store: Store, target_type: str, class_names: tuple[str, ...] = ()) -> Deployment:
    return create_deployment(
        store, Deployment(DEP, "accuracy", MODEL, target_type, class_names=class_names)
    )


def _predict(store: Store, predictions: list[Any], ids: list[str], **item: Any) -> None:
    body = {"data": [{"timestamp": TS, "predictions": predictions, "associationIds": ids, **item}]}
    Ingestor(store).ingest(IngestKind.PREDICTION_INPUTS, DEP, body)


def _actuals(store: Store, actuals: dict[str, Any]) -> None:
    data = [{"associationId": a, "actualValue": v} for a, v in actuals.items()]
    Ingestor(store).ingest(IngestKind.ACTUALS, DEP, {"data": data})


def _stored(store: Store) -> dict[str, Any]:
    t = schema.accuracy_rows
    with store.read() as conn:
        rows = conn.execute(select(t).order_by(t.c.association_id)).all()
    return {r.association_id: r for r in rows}


def test_binary_prediction_is_stored_as_the_positive_class_probability(store: Store) -> None:
    deployment = _deployment(store, "binary", ("no", "yes"))
    _predict(store, [[0.9, 0.1], [0.3, 0.7]], ["a", "b"], classNames=["no", "yes"])
    _predict(store, [[0.25, 0.75]], ["c"], classNames=["yes", "no"])  # the other order
    rows = _stored(store)
    assert [rows[a].predicted_value for a in "abc"] == [0.1, 0.7, 0.25]
    assert all(rows[a].probabilities is None and rows[a].actual_label is None for a in "abc")
    _actuals(store, {"a": "no", "b": "yes", "c": "no"})
    report = accuracy_report(store, deployment, DAY, None)
    assert report["sampleSize"] == 3 and report["predictionsWithoutActuals"] == 0
    assert report["metrics"]["accuracy"]["value"] == pytest.approx(1.0)


def test_multiclass_probabilities_are_packed_in_the_deployments_class_order(
    store: Store,
) -> None:
    deployment = _deployment(store, "multiclass", ("a", "b", "c"))
    _predict(store, [[0.1, 0.2, 0.7]], ["x"], classNames=["c", "a", "b"])
    _predict(store, [[0.6, 0.4]], ["y"], classNames=["b", "a"])  # c missing: 0.0
    rows = _stored(store)
    assert np.frombuffer(rows["x"].probabilities, "<f8").tolist() == [0.2, 0.7, 0.1]
    assert np.frombuffer(rows["y"].probabilities, "<f8").tolist() == [0.4, 0.6, 0.0]
    assert rows["x"].predicted_value is None
    _actuals(store, {"x": "b", "y": "c"})
    report = accuracy_report(store, deployment, DAY, None)
    assert report["sampleSize"] == 2
    assert report["metrics"]["accuracy"]["value"] == pytest.approx(0.5)


def test_regression_prediction_and_numeric_actual_are_numbers(store: Store) -> None:
    deployment = _deployment(store, "regression")
    _predict(store, [1.5, 4, [2.0], "x"], ["a", "b", "c", "d"])
    _actuals(store, {"a": 2.5, "b": 3, "c": 1.0, "d": "text"})
    rows = _stored(store)
    assert [rows[a].predicted_value for a in "abcd"] == [1.5, 4.0, None, None]
    assert [rows[a].actual_value for a in "abcd"] == [2.5, 3.0, 1.0, None]
    assert rows["d"].actual_label == "text"
    report = accuracy_report(store, deployment, DAY, None)
    # Rows c and d have actuals but predictions that fit no regression model.
    assert report["sampleSize"] == 2 and report["predictionsWithoutActuals"] == 0
    assert report["metrics"]["mae"]["value"] == pytest.approx(1.0)


def test_actuals_before_their_predictions_still_join(store: Store) -> None:
    deployment = _deployment(store, "binary", ("no", "yes"))
    _actuals(store, {"a": "yes", "b": "no", "lonely": "no"})
    before = accuracy_report(store, deployment, DAY, None)
    assert before["sampleSize"] == 0 and before["actualsWithoutPredictions"] == 3
    _predict(store, [[0.2, 0.8], [0.4, 0.6], [0.5, 0.5]], ["a", "b", "c"])
    report = accuracy_report(store, deployment, DAY, None)
    assert report["sampleSize"] == 2
    assert report["predictionsWithoutActuals"] == 1
    assert report["actualsWithoutPredictions"] == 1
    assert report["metrics"]["accuracy"]["value"] == pytest.approx(0.5)
    assert _stored(store)["a"].actual_label == "yes"


def test_re_sent_prediction_overwrites_and_keeps_its_actual(store: Store) -> None:
    deployment = _deployment(store, "binary", ("no", "yes"))
    _predict(store, [[0.9, 0.1]], ["a"])
    _actuals(store, {"a": "yes"})
    _predict(store, [[0.2, 0.8]], ["a"])
    # The same id twice in one request: the later prediction wins.
    _predict(store, [[0.7, 0.3], [0.1, 0.9]], ["b", "b"])
    rows = _stored(store)
    assert rows["a"].predicted_value == 0.8 and rows["a"].actual_label == "yes"
    assert rows["b"].predicted_value == 0.9
    report = accuracy_report(store, deployment, DAY, None)
    assert report["sampleSize"] == 1 and report["metrics"]["accuracy"]["value"] == 1.0


def test_predictions_that_fit_no_class_keep_their_row_and_count_as_waiting(
    store: Store,
) -> None:
    deployment = _deployment(store, "binary", ("no", "yes"))
    _predict(store, [[0.2, 0.8], [0.1, 0.2, 0.7], [None, 0.5], ["x", "y"]], ["a", "b", "c", "d"])
    rows = _stored(store)
    assert [rows[a].predicted_value for a in "abcd"] == [0.8, None, None, None]
    report = accuracy_report(store, deployment, DAY, None)
    assert report["predictionsWithoutActuals"] == 4
    _actuals(store, {a: "yes" for a in "abcd"})
    report = accuracy_report(store, deployment, DAY, None)
    assert report["sampleSize"] == 1 and report["predictionsWithoutActuals"] == 0


def test_binary_logloss_status_uses_the_positive_class_probability(store: Store) -> None:
    from spoolwatch.server.accuracy_status import judge_rows
    from spoolwatch.server.settings import ServerSettings
    from spoolwatch.store.accuracy import joined_rows

    deployment = _deployment(store, "binary", ("no", "yes"))
    ids = [f"r{i}" for i in range(200)]
    probabilities = np.linspace(0.05, 0.95, 200)
    _predict(store, [[1 - p, p] for p in probabilities], ids)
    _actuals(store, {a: "yes" if i % 3 else "no" for i, a in enumerate(ids)})
    with store.read() as conn:
        rows = joined_rows(conn, deployment, DAY.start, DAY.end, None)
    assert len(rows) == 200 and rows.predictions.tolist() == pytest.approx(probabilities)
    settings = ServerSettings(accuracy_reference_rows=100)
    judged = judge_rows(store, deployment, settings, rows, [rows])
    assert judged is not None and judged[0].count == 200
