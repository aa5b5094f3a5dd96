"""Bounded, finite values in the service, on SQLite and on the real PostgreSQL: rows that the
overflow left behind (a latency sum of two 1e308 ms requests stored as null, infinite sums)
no longer break reads or ingestion, and folding refuses what would overflow an hour's row
with a 422 naming the item."""

from __future__ import annotations

import logging
import math
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from spoolwatch.monitoring.health import ServiceHealth
from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store import aggregate_rows, schema
from spoolwatch.store.base import Store
from tests.databases import empty_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

HOUR = int(time.time()) // 3600 * 3600
NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(HOUR + 60))
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with empty_store(request, tmp_path, request.param, "values") as opened:
        yield opened


@pytest.fixture()
def client(store: Store) -> TestClient:
    app = create_app(store, settings=ServerSettings(cache_seconds=0.0, auth=False))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    aggregate_rows._warned.clear()


def deployment(client: TestClient, **extra: Any) -> str:
    dep = uuid.uuid4().hex[:24]
    body = {"id": dep, "modelId": MODEL, "targetType": "regression", **extra}
    assert client.post("/api/v2/deployments/", json=body).status_code == 201
    return dep


def post(client: TestClient, dep: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v2/deployments/{dep}/{path}/fromJSON/", json=body)


def overflowed_health() -> str:
    """The health JSON the service stored for 1 ordinary and 2 requests of 1e308 ms."""
    health = ServiceHealth()
    for ms in (5.0, 1e308, 1e308):
        health.add_request(num_predictions=1, execution_time_ms=ms, timestamp=HOUR + 60)
    data = health.to_dict()
    assert not math.isfinite(data["executionTime"]["sum"])
    return orjson.dumps(data).decode()  # the infinite sum is written as null


def store_broken_rows(store: Store, dep: str) -> None:
    """Rows as versions before the bounds left them after absurd values."""
    health = overflowed_health()
    with store.write() as conn:
        conn.execute(
            schema.service_hourly.insert().values(
                deployment_id=dep,
                model_id=MODEL,
                hour=HOUR,
                requests=3,
                predictions=3,
                health=health,
            )
        )
        aggregate = orjson.dumps({"features": {}, "target": None}).decode()
        conn.execute(
            schema.drift_hourly.insert().values(
                deployment_id=dep,
                model_id=MODEL,
                hour=HOUR,
                rows=2,
                prediction_rows=2,
                prediction_sum=math.inf,
                aggregate=aggregate,
            )
        )
        conn.execute(
            schema.custom_metric_hourly.insert().values(
                deployment_id=dep,
                metric_id="m1",
                model_id="",
                hour=HOUR,
                count=2,
                value_sum=math.inf,
                last_value=1e308,
                last_at=HOUR + 60.0,
            )
        )


def test_rows_left_by_an_overflow_answer_reads_and_take_new_records(
    client: TestClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    dep = deployment(client)
    other = deployment(client)
    store_broken_rows(store, dep)
    with caplog.at_level(logging.WARNING, logger="spoolwatch.store.aggregate_rows"):
        for _ in range(2):
            listed = client.get("/api/v2/deployments/")
            assert listed.status_code == 200, listed.text
            assert {d["id"] for d in listed.json()["data"]} == {dep, other}
            stats = client.get(f"/api/v2/deployments/{dep}/serviceStats/")
            assert stats.status_code == 200, stats.text
            # The counts are still exact; the overflowed execution times are unknown.
            assert stats.json()["metrics"]["totalRequests"] == 3
            assert stats.json()["metrics"]["executionTime"] is None
            target = client.get(f"/api/v2/deployments/{dep}/targetDrift/")
            assert target.status_code == 200 and target.json()["meanPrediction"] is None
            metric = client.get(f"/api/v2/deployments/{dep}/customMetrics/m1/summary/")
            assert metric.status_code == 200 and metric.json()["metric"]["count"] == 0
            assert client.get(f"/api/v2/deployments/{dep}/accuracy/").status_code == 200
            scraped = client.get("/metrics")
            assert scraped.status_code == 200
            assert f'spoolwatch_deployment_hour_requests{{deployment="{dep}"' in scraped.text
    kinds = [r.getMessage().split(" in the row")[0] for r in caplog.records]
    assert sorted(kinds) == [
        "custom_metric_hourly: custom metric values beyond the bounds",
        "drift_hourly: prediction sum beyond the bounds",
        "service_hourly: execution times beyond the bounds",
    ], kinds  # each once, however often it was read

    item = {"timestamp": NOW, "modelId": MODEL, "numPredictions": 4, "executionTime": 20.0}
    assert post(client, dep, "predictionRequests", {"data": [item]}).status_code == 202
    body = {"data": [{"timestamp": NOW, "modelId": MODEL, "predictions": [1.0, 3.0]}]}
    assert post(client, dep, "predictionInputs", body).status_code == 202
    metrics = client.get(f"/api/v2/deployments/{dep}/serviceStats/").json()["metrics"]
    assert metrics["totalRequests"] == 4 and metrics["totalPredictions"] == 7
    assert metrics["executionTime"] == pytest.approx(20.0)
    target = client.get(f"/api/v2/deployments/{dep}/targetDrift/").json()
    assert target["meanPrediction"] == pytest.approx(2.0)
    with store.read() as conn:
        health = conn.execute(select(schema.service_hourly.c.health)).scalar_one()
        drift = conn.execute(select(schema.drift_hourly.c.prediction_sum)).scalar_one()
    assert orjson.loads(health)["executionTime"]["sum"] == 20.0 and drift == 4.0


def test_predictions_that_would_pass_64_bits_in_an_hour_are_refused_naming_the_item(
    client: TestClient, store: Store
) -> None:
    dep = deployment(client)
    item = {"timestamp": NOW, "numPredictions": 2**53, "executionTime": 1.0}
    early = {**item, "timestamp": "2026-11-24T10:00:00Z"}
    full = post(client, dep, "predictionRequests", {"data": [early] + [item] * 1024})
    assert full.status_code == 422, full.text
    detail = full.json()["detail"][0]
    assert detail["loc"] == ["body", "data", 1, "numPredictions"]
    assert "2**63 - 1" in detail["msg"]
    assert post(client, dep, "predictionRequests", {"data": [item] * 1023}).status_code == 202
    one_more = post(client, dep, "predictionRequests", {"data": [item]})
    assert one_more.status_code == 422
    stats = client.get(f"/api/v2/deployments/{dep}/serviceStats/").json()["metrics"]
    assert stats["totalPredictions"] == 1023 * 2**53 and stats["totalRequests"] == 1023


def test_a_prediction_beyond_the_bounds_is_422_naming_its_item(client: TestClient) -> None:
    dep = deployment(client)
    good = {"timestamp": NOW, "predictions": [1.0, 2.0]}
    bad = {"timestamp": NOW, "predictions": [1.0, -1e300]}
    response = post(client, dep, "predictionInputs", {"data": [good, good, bad]})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "data", 2, "predictions"]
    assert post(client, dep, "predictionInputs", {"data": [good, good]}).status_code == 202
    target = client.get(f"/api/v2/deployments/{dep}/targetDrift/").json()
    assert target["sampleSize"] == 4 and target["meanPrediction"] == pytest.approx(1.5)


def _stats_item(**numeric: Any) -> dict[str, Any]:
    stats = {
        "count": 3,
        "sum": 6.0,
        "histogram": {"centroids": [1.0, 2.0, 3.0], "counts": [1, 1, 1]},
        **numeric,
    }
    return {
        "timestamp": NOW,
        "features": [{"name": "x", "stats": {"numericStats": stats, "missingCount": 0}}],
        "predictions": stats,
    }


@pytest.mark.parametrize(
    ("numeric", "field"),
    [
        ({"count": 10**16}, "data.0.features.0.stats.count"),
        ({"count": -1}, "data.0.features.0.stats.count"),
        ({"count": 2.5}, "data.0.features.0.stats.count"),
        ({"sum": 1e300}, "data.0.predictions.0.sum"),
        (
            {"histogram": {"centroids": [1.0], "counts": [10**16]}},
            "data.0.features.0.stats.numericStats.histogram.counts.0",
        ),
    ],
)
def test_client_side_aggregates_with_absurd_numbers_are_422_naming_the_number(
    client: TestClient, store: Store, numeric: dict[str, Any], field: str
) -> None:
    training = {"x": [1.0, 2.0, 3.0, 4.0] * 5, "y": [1.0, 2.0, 3.0, 4.0] * 5}
    dep = deployment(client, targetName="y", trainingData=training)
    response = post(client, dep, "predictionStats", {"data": [_stats_item(**numeric)]})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert ".".join(map(str, detail["loc"][1:])) == field, detail
    with store.read() as conn:
        assert conn.execute(select(schema.drift_hourly)).all() == []


def test_client_side_aggregates_of_huge_counts_are_binned_without_expanding_them(
    client: TestClient,
) -> None:
    training = {"x": [1.0, 2.0, 3.0, 4.0] * 5, "y": [1.0, 2.0, 3.0, 4.0] * 5}
    dep = deployment(client, targetName="y", trainingData=training)
    many = {"count": 2**53, "sum": 2.0**53, "histogram": {"centroids": [1.0], "counts": [2**53]}}
    started = time.monotonic()
    response = post(client, dep, "predictionStats", {"data": [_stats_item(**many)]})
    assert response.status_code == 202, response.text
    assert time.monotonic() - started < 5  # 2**53 values were never materialised
    drift = client.get(f"/api/v2/deployments/{dep}/featureDrift/").json()
    assert drift["data"][0]["sampleSize"] == 2**53
    target = client.get(f"/api/v2/deployments/{dep}/targetDrift/").json()
    assert target["meanPrediction"] == pytest.approx(1.0)


def test_the_accuracy_message_leaves_out_figures_that_are_unknown() -> None:
    from spoolwatch.server.query import _accuracy_message

    shown = {"value": 0.5, "baselineValue": 0.0, "percentChange": None}
    report = {
        "sampleSize": 40,
        "metric": "accuracy",
        "metrics": {"accuracy": shown},
        "buckets": [{"status": "red", "metrics": {"accuracy": math.nan}}],
    }
    assert _accuracy_message(report) == "40 predictions with actuals; accuracy 0.5 (reference 0)"
    shown["value"] = math.inf
    assert _accuracy_message(report) == "40 predictions with actuals"
