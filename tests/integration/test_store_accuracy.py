"""Compact accuracy rows on SQLite and PostgreSQL: what a prediction and an actual are stored
as, joins whichever arrives first, overwrites of re-sent predictions, and the metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
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
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.deployments import create_deployment
from tests.accuracy_reports import assert_same_answer
from tests.databases import empty_database

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
TS = "2026-11-24 10:00:00.000+0000"
DAY = QueryPeriod(1795478400, 1795478400 + 86400, 3600)  # 2026-11-24 UTC, hourly


@pytest.fixture(params=["sqlite", "sqlite-before-3.35", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database dropped afterwards.
    ``sqlite-before-3.35`` writes as on a SQLite without ``INSERT … RETURNING`` (the
    aggregates then read every touched row before writing it)."""
    kind = request.param
    if kind == "sqlite-before-3.35":
        monkeypatch.setattr("spoolwatch.store.accuracy_folding.SQLITE_RETURNING", False)
        kind = "sqlite"
    with empty_database(request, tmp_path, kind, "accuracy") as url:
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


def test_the_same_actual_twice_in_one_request_counts_once_with_the_later_value(
    store: Store,
) -> None:
    deployment = _deployment(store, "binary", ("no", "yes"))
    _predict(store, [[0.9, 0.1], [0.2, 0.8]], ["a", "b"])
    data = [
        {"associationId": "a", "actualValue": "yes"},
        {"associationId": "b", "actualValue": "yes"},
        {"associationId": "a", "actualValue": "no"},  # the later value wins
        {"associationId": "early", "actualValue": "no"},
        {"associationId": "early", "actualValue": "yes"},
    ]
    Ingestor(store).ingest(IngestKind.ACTUALS, DEP, {"data": data})
    rows = _stored(store)
    assert rows["a"].actual_label == "no" and rows["early"].actual_label == "yes"
    report = accuracy_report(store, deployment, DAY, None)
    assert report["sampleSize"] == 2 and report["actualsWithoutPredictions"] == 1
    assert report["metrics"]["accuracy"]["value"] == 1.0
    _predict(store, [[0.6, 0.4]], ["early"])  # its actual came first: joins as "yes"
    report = accuracy_report(store, deployment, DAY, None)
    assert report["sampleSize"] == 3 and report["predictionsWithoutActuals"] == 0
    assert report["metrics"]["accuracy"]["value"] == pytest.approx(2 / 3)


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


# ------------------------------------------------------------------ aggregates against rows


def _row_by_row(store: Store, deployment: Deployment, period: QueryPeriod) -> dict[str, Any]:
    """The accuracy answer computed from the joined rows, as before the aggregates."""
    from spoolwatch.server.accuracy_status import judge_rows
    from spoolwatch.server.outcomes import compute_accuracy
    from spoolwatch.server.settings import ServerSettings
    from spoolwatch.store.accuracy import accuracy_backlog, joined_rows

    with store.read() as conn:
        rows = joined_rows(conn, deployment, period.start, period.end, None)
        backlog = accuracy_backlog(conn, deployment, period.start, period.end, None)
    starts = list(period.buckets())
    index = (rows.predicted_at // 3600 * 3600 - period.start) // period.bucket
    by_bucket = [rows.subset(index == i) for i in range(len(starts))]
    judged = judge_rows(store, deployment, ServerSettings(), rows, by_bucket)
    assert judged is not None
    size, metrics = compute_accuracy(deployment, rows)
    return {
        "sampleSize": size,
        "predictionsWithoutActuals": backlog.waiting,
        "actualsWithoutPredictions": backlog.orphans,
        "status": judged[0].status.value,
        "metrics": dict(metrics),
        "buckets": [
            {
                "sampleSize": compute_accuracy(deployment, bucket)[0],
                "metrics": compute_accuracy(deployment, bucket)[1],
                "status": judgement.status.value,
            }
            for bucket, judgement in zip(by_bucket, judged[1], strict=True)
        ],
        "value": judged[0].value,
    }


def _aggregated(store: Store, deployment: Deployment, period: QueryPeriod) -> dict[str, Any]:
    report = accuracy_report(store, deployment, period, None)
    metric = report["metric"]
    return {
        "sampleSize": report["sampleSize"],
        "predictionsWithoutActuals": report["predictionsWithoutActuals"],
        "actualsWithoutPredictions": report["actualsWithoutPredictions"],
        "status": report["status"],
        "metrics": {k: v["value"] for k, v in report["metrics"].items()},
        "buckets": [
            {k: b[k] for k in ("sampleSize", "metrics", "status")} for b in report["buckets"]
        ],
        "value": report["metrics"].get(metric, {}).get("value"),
    }


def _without_auc(answer: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    aucs = [answer["metrics"].pop("auc", None)]
    for bucket in answer["buckets"]:
        aucs.append(bucket["metrics"].pop("auc", None))
    return answer, aucs


def _stamp(hour: int, second: int = 0) -> str:
    return datetime.fromtimestamp(DAY.start + hour * 3600 + second, UTC).isoformat()


def _mixed_traffic(store: Store, target_type: str, classes: tuple[str, ...]) -> None:
    """Six hours of predictions with late, early, corrected and missing actuals, re-sent
    predictions (some into another hour), two models, and predictions that fit no model."""
    rng = np.random.default_rng(7)
    ingestor = Ingestor(store)

    def prediction(i: int) -> Any:
        if target_type == "regression":
            return float(rng.normal(10, 3)) if i % 97 else "not a number"
        p = rng.random(len(classes))
        return (p / p.sum()).tolist() if i % 89 else [0.5]  # one too short: fits nothing

    def actual(i: int) -> Any:
        if target_type == "regression":
            return float(rng.normal(10, 3))
        return str(rng.choice(classes)) if i % 83 else "unknown class"

    early = {f"r{i}": actual(i) for i in range(0, 900, 7)}  # actuals before predictions
    ingestor.ingest(IngestKind.ACTUALS, DEP, {"data": _actual_items(early)})
    for hour in range(6):
        ids = [f"r{i}" for i in range(hour * 150, hour * 150 + 150)]
        model = MODEL if hour % 2 else "650a1b2c3d4e5f6a7b8c9d11"
        item = {"timestamp": _stamp(hour, 60), "modelId": model, "associationIds": ids}
        item["predictions"] = [prediction(hour * 150 + k) for k in range(150)]
        if classes:
            item["classNames"] = list(classes)
        ingestor.ingest(IngestKind.PREDICTION_INPUTS, DEP, {"data": [item]})
    late = {f"r{i}": actual(i) for i in range(0, 900) if i % 5 and i % 7}
    ingestor.ingest(IngestKind.ACTUALS, DEP, {"data": _actual_items(late)})
    corrected = {f"r{i}": actual(i) for i in range(0, 900, 11)}  # the later value wins
    ingestor.ingest(IngestKind.ACTUALS, DEP, {"data": _actual_items(corrected)})
    again = [f"r{i}" for i in range(0, 300, 13)]  # re-sent, now in hour 5
    item = {"timestamp": _stamp(5, 120), "modelId": MODEL, "associationIds": again}
    item["predictions"] = [prediction(i + 1) for i in range(len(again))]
    if classes:
        item["classNames"] = list(classes)
    ingestor.ingest(IngestKind.PREDICTION_INPUTS, DEP, {"data": [item]})
    orphans = {f"late{i}": actual(i) for i in range(5)}
    ingestor.ingest(IngestKind.ACTUALS, DEP, {"data": _actual_items(orphans)})
    again_orphans = {f"late{i}": actual(i + 1) for i in range(2)}  # still no prediction
    ingestor.ingest(IngestKind.ACTUALS, DEP, {"data": _actual_items(again_orphans)})


def _actual_items(actuals: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"associationId": a, "actualValue": v} for a, v in actuals.items()]


@pytest.mark.parametrize(
    ("target_type", "classes"),
    [("binary", ("no", "yes")), ("multiclass", ("a", "b", "c")), ("regression", ())],
)
def test_aggregates_answer_as_the_joined_rows_on_the_same_traffic(
    store: Store, target_type: str, classes: tuple[str, ...]
) -> None:
    deployment = _deployment(store, target_type, classes)
    _mixed_traffic(store, target_type, classes)
    for period in (DAY, QueryPeriod(DAY.start, DAY.start + 4 * 3600, 7200)):
        want, want_aucs = _without_auc(_row_by_row(store, deployment, period))
        got, got_aucs = _without_auc(_aggregated(store, deployment, period))
        assert want["sampleSize"] > 300
        assert_same_answer(got, want)
        for got_auc, want_auc in zip(got_aucs, want_aucs, strict=True):
            if want_auc is None:
                assert got_auc is None
            else:  # scores tied within a 0.001-wide bucket count half
                assert got_auc == pytest.approx(want_auc, abs=2e-3)


def test_aggregates_follow_a_per_model_filter(store: Store) -> None:
    deployment = _deployment(store, "regression")
    _mixed_traffic(store, "regression", ())
    whole = accuracy_report(store, deployment, DAY, None)
    parts = [
        accuracy_report(store, deployment, DAY, m) for m in (MODEL, "650a1b2c3d4e5f6a7b8c9d11")
    ]
    assert sum(p["sampleSize"] for p in parts) == whole["sampleSize"]
    assert sum(p["predictionsWithoutActuals"] for p in parts) == whole["predictionsWithoutActuals"]


def test_an_unreadable_stored_aggregate_is_rebuilt_from_its_rows(store: Store) -> None:
    deployment = _deployment(store, "binary", ("no", "yes"))
    _predict(store, [[0.9, 0.1], [0.3, 0.7]], ["a", "b"])
    _actuals(store, {"a": "no"})
    with store.write() as conn:
        conn.execute(schema.accuracy_hourly.update().values(aggregate='{"broken": 1}'))
    assert accuracy_report(store, deployment, DAY, None)["sampleSize"] == 0  # skipped
    _actuals(store, {"b": "yes"})
    report = accuracy_report(store, deployment, DAY, None)
    assert report["sampleSize"] == 2 and report["metrics"]["accuracy"]["value"] == 1.0
