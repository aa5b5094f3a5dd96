"""Property tests of ingestion with absurd numbers, on SQLite and the real PostgreSQL: no
generated body — absurd floats, integers beyond 64 bits, NaN and Infinity (as the JSON
extensions ``NaN``, ``Infinity`` and ``1e999`` over HTTP, as real floats through the embedded
ingestion), negative counts, timestamps of year 1 or 9999 — gets a 500; every aggregate the
store then holds is finite and within the bounds, and every read answers 200."""

from __future__ import annotations

import json
import math
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from spoolwatch.server.app import create_app
from spoolwatch.server.ingestion import IngestError
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store import schema
from spoolwatch.store.aggregate_rows import read_custom_metric, read_drift, read_service_health
from spoolwatch.store.base import Store
from tests.databases import empty_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 120))


class Raw:
    """A JSON token written as is (``1e999``, ``NaN``), which no encoder writes."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


def render(value: Any) -> str:
    """JSON text of ``value``, with Python's non-finite floats as ``NaN``/``Infinity``."""
    if isinstance(value, Raw):
        return value.token
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return "{" + ",".join(f"{render(str(k))}:{render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(render(v) for v in value) + "]"
    return json.dumps(value)  # integers beyond 64 bits too


def plain(value: Any) -> Any:
    """``value`` for the embedded ingestion: the raw tokens as the floats they mean."""
    if isinstance(value, Raw):
        return float(value.token)  # float() reads NaN, Infinity and 1e999 alike
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


ABSURD_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.sampled_from(
        [1e308, -1e308, 1e12, 1e12 + 1, 2**53, 2**53 + 1, 2**63, 2**64, -1, 1e289, 1e290]
    ),
    st.sampled_from([Raw("1e999"), Raw("-1e999"), Raw("NaN"), Raw("Infinity")]),
)
ODD_TIMESTAMPS = st.sampled_from(
    [
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2199-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "0001-01-01 00:30:00.000+0100",
        "9999-12-31T23:59:59.999999-2359",
        "9999-12-31 23:59:59.999",
        "2026-13-01T00:00:00Z",
        "",
    ]
)


def _mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``odd`` one time in four: bodies are often accepted, so aggregates build up."""
    return st.integers(0, 3).flatmap(lambda i: odd if i == 0 else usual)


NUMBERS = _mostly(st.one_of(st.integers(0, 10), st.floats(0, 1000)), ABSURD_NUMBERS)
TIMESTAMPS = _mostly(st.just(NOW), ODD_TIMESTAMPS)
_N = st.integers(1, 3)
KINDS = (
    "predictionRequests",
    "predictionInputs",
    "predictionStats",
    "actuals",
    "metric",
    "remoteEvents",
)


def _numeric_stats(draw: st.DrawFn) -> dict[str, Any]:
    width = draw(_N)
    return {
        "count": draw(NUMBERS),
        "sum": draw(NUMBERS),
        "histogram": {
            "centroids": draw(st.lists(NUMBERS, min_size=width, max_size=width)),
            "counts": draw(st.lists(NUMBERS, min_size=width, max_size=width)),
        },
    }


@st.composite
def requests(draw: st.DrawFn, deployments: list[str]) -> tuple[str, str, dict[str, Any]]:
    """(deployment, path segment, body) of a plausible request with absurd numbers."""
    dep = draw(st.sampled_from(deployments))
    kind = draw(st.sampled_from(KINDS))
    items = draw(st.integers(1, 3))
    body: dict[str, Any]
    if kind == "predictionRequests":
        data = [
            {
                "timestamp": draw(TIMESTAMPS),
                "numPredictions": draw(NUMBERS),
                "executionTime": draw(NUMBERS),
            }
            for _ in range(items)
        ]
        body = {"data": data}
    elif kind == "predictionInputs":
        data = []
        for _ in range(items):
            rows = draw(_N)
            binary = draw(st.booleans())
            predictions = (
                [[p, 0.5] for p in draw(st.lists(NUMBERS, min_size=rows, max_size=rows))]
                if binary
                else draw(st.lists(NUMBERS, min_size=rows, max_size=rows))
            )
            values = st.one_of(NUMBERS, st.none(), st.just("text"))
            data.append(
                {
                    "timestamp": draw(TIMESTAMPS),
                    "features": [
                        {
                            "name": "x",
                            "values": draw(st.lists(values, min_size=rows, max_size=rows)),
                        }
                    ],
                    "predictions": predictions,
                    "associationIds": [uuid.uuid4().hex for _ in range(rows)],
                }
            )
        body = {"data": data}
    elif kind == "predictionStats":
        data = []
        for _ in range(items):
            stats = {"numericStats": _numeric_stats(draw), "missingCount": draw(NUMBERS)}
            predictions: Any = _numeric_stats(draw)
            if draw(st.booleans()):
                predictions = [predictions, _numeric_stats(draw)]
            data.append(
                {
                    "timestamp": draw(TIMESTAMPS),
                    "features": [{"name": "x", "stats": stats}],
                    "predictions": predictions,
                }
            )
        body = {"data": data}
    elif kind == "actuals":
        data = [
            {
                "associationId": f"a{draw(st.integers(0, 5))}",
                "actualValue": draw(st.one_of(NUMBERS, st.just("yes"))),
                "timestamp": draw(TIMESTAMPS),
            }
            for _ in range(items)
        ]
        body = {"data": data}
    elif kind == "remoteEvents":
        event = {
            "timestamp": draw(TIMESTAMPS),
            "eventType": "absurd",
            "message": "m",
            "deploymentId": dep,
            "data": {"value": draw(NUMBERS)},
        }
        return dep, kind, event
    else:
        buckets = [
            {"timestamp": draw(TIMESTAMPS), "value": draw(NUMBERS), "sampleSize": draw(NUMBERS)}
            for _ in range(items)
        ]
        return dep, "customMetrics/m1", {"buckets": buckets}
    return dep, kind, body


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with empty_store(request, tmp_path, request.param, "properties") as opened:
        yield opened


def _deployments(client: TestClient) -> list[str]:
    training = {"x": [1.0, 2.0, 3.0, 4.0] * 5, "y": [0.1, 0.2, 0.3, 0.4] * 5}
    bodies = [
        {"targetType": "regression", "targetName": "y", "trainingData": training},
        {"targetType": "binary", "classNames": ["no", "yes"]},
        {"targetType": "regression"},
    ]
    ids = []
    for body in bodies:
        dep = uuid.uuid4().hex[:24]
        assert client.post("/api/v2/deployments/", json={"id": dep, **body}).status_code == 201
        ids.append(dep)
    return ids


def _check_stored_aggregates(store: Store) -> None:
    with store.read() as conn:
        service = conn.execute(select(schema.service_hourly)).all()
        drift = conn.execute(select(schema.drift_hourly)).all()
        metrics = conn.execute(select(schema.custom_metric_hourly)).all()
        accuracy = conn.execute(
            select(schema.accuracy_rows.c.predicted_value, schema.accuracy_rows.c.actual_value)
        ).all()
    assert service and drift  # the examples did store something to check
    for row in service:
        assert read_service_health(row.health)[1] is None, row
        assert 0 <= row.predictions <= 2**63 - 1
    for row in drift:
        assert read_drift(row.aggregate, row.prediction_rows, row.prediction_sum)[1] is None, row
    for row in metrics:
        assert read_custom_metric(row)[1] is None, row
    for predicted, actual in accuracy:
        assert all(v is None or math.isfinite(v) for v in (predicted, actual))


def _check_reads(client: TestClient, deployments: list[str]) -> None:
    for path in ("/api/v2/deployments/", "/metrics"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
    for dep in deployments:
        for path in (
            "serviceStats/",
            "featureDrift/",
            "targetDrift/",
            "accuracy/",
            "customMetrics/m1/summary/",
            "events/",
        ):
            response = client.get(f"/api/v2/deployments/{dep}/{path}")
            assert response.status_code == 200, (path, response.text)


def test_no_absurd_number_gets_a_500_and_every_stored_aggregate_stays_finite(
    store: Store,
) -> None:
    app = create_app(store, settings=ServerSettings(cache_seconds=0.0, auth=False))
    client = TestClient(app, raise_server_exceptions=False)
    deployments = _deployments(client)
    ingestor = app.state.ingestor
    seen: set[int] = set()

    event = {"timestamp": NOW, "eventType": "x", "message": "m", "data": {"n": 2**70}}

    @given(request=requests(deployments), over_http=st.booleans())
    @example(request=(deployments[0], "remoteEvents", event), over_http=False)
    @example(request=(deployments[0], "remoteEvents", event), over_http=True)
    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def ingest(request: tuple[str, str, dict[str, Any]], over_http: bool) -> None:
        dep, path, body = request
        url = f"/api/v2/deployments/{dep}/{path}/fromJSON/"
        if path == "remoteEvents":
            url, dep = "/api/v2/remoteEvents/", None
        if over_http:
            response = client.post(
                url,
                content=render(body),
                headers={"content-type": "application/json"},
            )
            assert response.status_code in (202, 422), (response.status_code, response.text)
            seen.add(response.status_code)
            return
        kind, _, metric = path.partition("/")
        try:
            ingestor.ingest(kind, dep, plain(body), metric_id=metric or None)
        except IngestError as exc:
            assert exc.status == 422, exc.detail
            seen.add(422)
        else:
            seen.add(202)

    ingest()
    assert seen == {202, 422}
    _check_stored_aggregates(store)
    _check_reads(client, deployments)
