"""Bad input to the monitoring service: a 4xx naming the field, never a 500, nothing stored.

Runs on SQLite and on the real PostgreSQL (NUL characters only fail on PostgreSQL, whose text
columns cannot hold them).
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store import schema
from spoolwatch.store.base import Store
from spoolwatch.store.tokens import create_token
from tests.databases import empty_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TS = "2026-11-24T10:00:00Z"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    directory = tmp_path_factory.mktemp("bad-input")
    with empty_store(request, directory, request.param, "bad_input") as opened:
        yield opened


@pytest.fixture(scope="module")
def client(store: Store) -> TestClient:
    token = create_token(store, "bad-input")[1]
    app = create_app(store, settings=ServerSettings(cache_seconds=0.0))
    c = TestClient(app, raise_server_exceptions=False)
    c.headers["Authorization"] = f"Bearer {token}"
    return c


@pytest.fixture(scope="module")
def deployment(client: TestClient) -> str:
    dep = uuid.uuid4().hex[:24]
    body = {"id": dep, "targetType": "regression", "targetName": "y"}
    assert client.post("/api/v2/deployments/", json=body).status_code == 201
    return dep


def rows(store: Store, table: object) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_nan_in_a_deployment_body_is_422_naming_the_field(client: TestClient) -> None:
    body = '{"targetType": "regression", "accuracy": {"baselineValue": NaN}}'
    response = client.post(
        "/api/v2/deployments/", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "accuracy", "baselineValue"]


def test_end_near_year_9999_is_422_naming_end(client: TestClient, deployment: str) -> None:
    response = client.get(
        f"/api/v2/deployments/{deployment}/serviceStats/", params={"end": "9999-12-31T23:59:59"}
    )
    assert response.status_code == 422, response.text
    assert "end" in str(response.json()["detail"])


def test_events_offset_beyond_64_bits_is_422_naming_offset(
    client: TestClient, deployment: str
) -> None:
    response = client.get(
        f"/api/v2/deployments/{deployment}/events/", params={"offset": str(10**23)}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "offset"]


def test_heartbeat_with_an_integer_beyond_64_bits_is_422_and_not_stored(
    client: TestClient, store: Store
) -> None:
    before = rows(store, schema.agent_heartbeats)
    for body in (
        {"agentId": "huge-backlog", "backlog": {"sqs": 10**30}},
        {"agentId": "huge-extra", "cycles": 10**30},
    ):
        response = client.post("/api/v2/spoolwatch/agents/heartbeat/", json=body)
        assert response.status_code == 422, response.text
        assert "64-bit" in response.text
    assert rows(store, schema.agent_heartbeats) == before


def test_training_data_with_nested_values_is_422_naming_the_column(
    client: TestClient, store: Store
) -> None:
    before = rows(store, schema.deployments)
    body = {
        "targetType": "regression",
        "targetName": "y",
        "trainingData": {"a": [[1], [2]], "y": [1, 2]},
    }
    response = client.post("/api/v2/deployments/", json=body)
    assert response.status_code == 422, response.text
    assert "trainingData.a" in response.text
    assert rows(store, schema.deployments) == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/deployments/%00/",
        "/api/v2/status/%00/",
        "/api/v2/deployments/{dep}/serviceStats/?modelId=%00",
        "/api/v2/deployments/{dep}/events/?eventType=a%00",
    ],
)
def test_nul_character_in_path_or_query_is_422_naming_it(
    client: TestClient, deployment: str, path: str
) -> None:
    response = client.get(path.format(dep=deployment))
    assert response.status_code == 422, response.text
    assert "NUL" in response.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v2/deployments/{dep}/predictionRequests/fromJSON/",
            {
                "data": [
                    {"timestamp": TS, "modelId": "m\u0000", "numPredictions": 1, "executionTime": 1}
                ]
            },
            "data.0.modelId",
        ),
        (
            "/api/v2/deployments/{dep}/actuals/fromJSON/",
            {"data": [{"associationId": "a\u0000", "actualValue": 1}]},
            "data.0.associationId",
        ),
        (
            "/api/v2/remoteEvents/",
            {"timestamp": TS, "eventType": "x", "message": "m\u0000", "deploymentId": "{dep}"},
            "message",
        ),
        ("/api/v2/spoolwatch/agents/heartbeat/", {"agentId": "a\u0000"}, "agentId"),
        ("/api/v2/deployments/", {"targetType": "regression", "label": "a\u0000"}, "label"),
    ],
)
def test_nul_character_in_a_body_is_422_naming_the_field_and_changes_nothing(
    client: TestClient,
    store: Store,
    deployment: str,
    path: str,
    body: dict[str, object],
    field: str,
) -> None:
    if body.get("deploymentId") == "{dep}":
        body = {**body, "deploymentId": deployment}
    tables = (schema.events, schema.agent_heartbeats, schema.deployments, schema.accuracy_rows)
    before = [rows(store, t) for t in tables]
    response = client.post(path.format(dep=deployment), json=body)
    assert response.status_code == 422, response.text
    assert field in response.text and "NUL" in response.text
    assert [rows(store, t) for t in tables] == before


@pytest.mark.parametrize("target_type", ["binary", "multiclass"])
def test_classification_deployment_without_class_names_answers_accuracy_and_listing(
    client: TestClient, target_type: str
) -> None:
    dep = uuid.uuid4().hex[:24]
    body = {"id": dep, "targetType": target_type}
    assert client.post("/api/v2/deployments/", json=body).status_code == 201
    accuracy = client.get(f"/api/v2/deployments/{dep}/accuracy/")
    assert accuracy.status_code == 200, accuracy.text
    assert accuracy.json()["sampleSize"] == 0
    assert client.get(f"/api/v2/deployments/{dep}/").status_code == 200
    assert client.get("/api/v2/deployments/").status_code == 200
    assert client.delete(f"/api/v2/deployments/{dep}/").status_code == 204


LONG = "x" * 400


@pytest.mark.parametrize(
    ("path", "body", "headers", "field"),
    [
        (
            "/api/v2/deployments/{dep}/predictionRequests/fromJSON/",
            {"data": [{"timestamp": TS, "numPredictions": 1, "executionTime": 1}]},
            {"Idempotency-Key": LONG},
            "Idempotency-Key",
        ),
        (
            "/api/v2/deployments/{dep}/predictionRequests/fromJSON/",
            {"data": [{"timestamp": TS, "numPredictions": 1, "executionTime": 1}]},
            {"X-Spoolwatch-Record-Ids": f"a,{LONG}"},
            "X-Spoolwatch-Record-Ids",
        ),
        (
            "/api/v2/deployments/{dep}/predictionRequests/fromJSON/",
            {"data": [{"timestamp": TS, "modelId": LONG, "numPredictions": 1, "executionTime": 1}]},
            {},
            "modelId",
        ),
        (
            "/api/v2/deployments/{dep}/predictionInputs/fromJSON/",
            {
                "data": [
                    {
                        "timestamp": TS,
                        "features": [{"name": "a", "values": [1]}],
                        "predictions": [1.0],
                        "associationIds": [LONG],
                    }
                ]
            },
            {},
            "associationIds",
        ),
        (
            "/api/v2/deployments/{dep}/predictionStats/fromJSON/",
            {"data": [{"timestamp": TS, "modelId": LONG}]},
            {},
            "modelId",
        ),
        (
            "/api/v2/deployments/{dep}/actuals/fromJSON/",
            {"data": [{"associationId": LONG, "actualValue": 1}]},
            {},
            "associationId",
        ),
        (
            "/api/v2/deployments/{dep}/customMetrics/" + LONG + "/fromJSON/",
            {"buckets": [{"timestamp": TS, "value": 1}]},
            {},
            "metric",
        ),
        (
            "/api/v2/deployments/{dep}/customMetrics/m/fromJSON/",
            {"modelId": LONG, "buckets": [{"timestamp": TS, "value": 1}]},
            {},
            "modelId",
        ),
        ("/api/v2/remoteEvents/", {"timestamp": TS, "eventType": LONG}, {}, "eventType"),
        ("/api/v2/remoteEvents/", {"timestamp": TS, "eventType": "x", "orgId": LONG}, {}, "orgId"),
        (
            "/api/v2/deployments/",
            {"targetType": "regression", "targetName": LONG},
            {},
            "targetName",
        ),
    ],
)
def test_overlong_value_is_422_naming_the_field_on_every_backend(
    client: TestClient,
    store: Store,
    deployment: str,
    path: str,
    body: dict[str, object],
    headers: dict[str, str],
    field: str,
) -> None:
    tables = (schema.events, schema.deployments, schema.accuracy_rows, schema.service_hourly)
    before = [rows(store, t) for t in tables]
    response = client.post(path.format(dep=deployment), json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert [rows(store, t) for t in tables] == before


_OUT_OF_BOUNDS = [
    ("predictionRequests", {"numPredictions": 1, "executionTime": 1e308}, "executionTime"),
    ("predictionRequests", {"numPredictions": 2**53 + 1, "executionTime": 1.0}, "numPredictions"),
    ("predictionRequests", {"numPredictions": -1, "executionTime": 1.0}, "numPredictions"),
    ("predictionRequests", {"numPredictions": 1, "executionTime": 1.0, "ts": "0001"}, "timestamp"),
    ("predictionRequests", {"numPredictions": 1, "executionTime": 1.0, "ts": "9999"}, "timestamp"),
    ("predictionInputs", {"predictions": [1.0], "ts": "1969"}, "timestamp"),
    ("predictionStats", {"ts": "9999"}, "data"),
    ("customMetrics/m1", {"value": 1e300}, "value"),
    ("customMetrics/m1", {"value": 1.0, "sampleSize": -4}, "sampleSize"),
    ("customMetrics/m1", {"value": 1.0, "ts": "0001"}, "timestamp"),
]
_STAMPS = {
    "0001": "0001-01-01T00:00:00Z",
    "1969": "1969-12-31 23:59:59.999+0000",
    "9999": "9999-12-31T10:00:00Z",
}


@pytest.mark.parametrize(("path", "fields", "field"), _OUT_OF_BOUNDS)
def test_a_number_or_timestamp_outside_the_bounds_is_422_naming_it_and_not_stored(
    client: TestClient,
    store: Store,
    deployment: str,
    path: str,
    fields: dict[str, object],
    field: str,
) -> None:
    tables = (schema.service_hourly, schema.drift_hourly, schema.custom_metric_hourly)
    before = [rows(store, t) for t in tables]
    item = {k: v for k, v in fields.items() if k != "ts"}
    item["timestamp"] = _STAMPS.get(str(fields.get("ts")), TS)
    body = {"buckets": [item]} if path.startswith("customMetrics") else {"data": [item]}
    response = client.post(f"/api/v2/deployments/{deployment}/{path}/fromJSON/", json=body)
    assert response.status_code == 422, response.text
    loc = response.json()["detail"][0]["loc"]
    assert loc[-1] == field or (field == "data" and loc == ["body", "data"]), loc
    assert [rows(store, t) for t in tables] == before


def test_an_event_from_year_9999_is_422_naming_the_timestamp(client: TestClient) -> None:
    body = {"timestamp": "9999-12-31 10:00:00.000000", "eventType": "x", "message": "m"}
    response = client.post("/api/v2/remoteEvents/", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "timestamp"]
