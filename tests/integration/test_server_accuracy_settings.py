# ruff: noqa: F811 - the fixtures imported from test_server_api are redefined as parameters
"""A deployment's own accuracy settings through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spoolwatch.store.base import Store
from tests.integration.test_server_api import (  # noqa: F401 - fixtures
    DEP,
    DEP2,
    MODEL,
    MODEL2,
    TestClient,
    client,
    create_deployment,
    make_client,
    postgres_database,
    session_store,
    store,
    token,
)

BINARY = {"targetType": "binary", "targetName": "label", "classNames": ["no", "yes"]}


def _rows(client: TestClient, dep: str, hour: datetime, right: int, wrong: int) -> None:
    """``right`` predictions of the actual class and ``wrong`` of the other, with actuals."""
    ids = [f"{dep}-{hour:%H}-{i}" for i in range(right + wrong)]
    body = {
        "data": [
            {
                "timestamp": hour.strftime("%Y-%m-%d %H:%M:%S.000+0000"),
                "predictions": [[0.2, 0.8]] * (right + wrong),
                "associationIds": ids,
                "classNames": ["no", "yes"],
            }
        ]
    }
    actuals = [{"associationId": a, "actualValue": "yes"} for a in ids[:right]]
    actuals += [{"associationId": a, "actualValue": "no"} for a in ids[right:]]
    path = f"/api/v2/deployments/{dep}"
    assert client.post(f"{path}/predictionInputs/fromJSON/", json=body).status_code == 202
    assert client.post(f"{path}/actuals/fromJSON/", json={"data": actuals}).status_code == 202


def test_deployment_keeps_its_accuracy_settings_and_shows_them(client: TestClient) -> None:
    settings = {"metric": "logLoss", "yellowPercent": 5, "redPercent": 12.5, "baselineValue": 0.4}
    created = create_deployment(client, **BINARY, accuracy=settings)
    assert created["accuracy"] == settings
    assert client.get(f"/api/v2/deployments/{DEP}/").json()["accuracy"] == settings
    plain = create_deployment(client, DEP2, MODEL2, **BINARY)
    assert plain["accuracy"] is None
    listed = {d["id"]: d["accuracy"] for d in client.get("/api/v2/deployments/").json()["data"]}
    assert listed == {DEP: settings, DEP2: None}


def test_a_threshold_given_alone_is_paired_with_the_service_default(client: TestClient) -> None:
    created = create_deployment(client, **BINARY, accuracy={"yellowPercent": 15})
    assert created["accuracy"] == {
        "metric": "accuracy",
        "yellowPercent": 15.0,
        "redPercent": 20.0,
        "baselineValue": None,
    }
    regression = create_deployment(client, DEP2, MODEL2, accuracy={"baselineValue": 3.5})
    assert regression["accuracy"]["metric"] == "rmse"
    assert regression["accuracy"]["redPercent"] is None  # the service's, whatever it is then


@pytest.mark.parametrize(
    ("target", "accuracy", "field", "words"),
    [
        (BINARY, {"metric": "rmse"}, "metric", "does not apply to binary"),
        ({}, {"metric": "logLoss"}, "metric", "does not apply to regression"),
        (BINARY, {"metric": "auc"}, "metric", "is not one of accuracy, logLoss"),
        (BINARY, {"yellowPercent": 30, "redPercent": 20}, "yellowPercent", "must be below"),
        (BINARY, {"yellowPercent": 25}, "yellowPercent", "red threshold (20 %)"),
        (BINARY, {"redPercent": 5}, "redPercent", "yellow threshold (10 %)"),
        (BINARY, {"yellowPercent": 50, "redPercent": 150}, "redPercent", "never be reached"),
        (BINARY, {"yellowPercent": 0}, "yellowPercent", "greater than 0"),
        (BINARY, {"baselineValue": 1.5}, "baselineValue", "share in (0, 1]"),
        ({}, {"baselineValue": -2}, "baselineValue", "cannot be negative"),
        (BINARY, {"yellow": 5}, "yellow", "Extra inputs are not permitted"),
    ],
)
def test_bad_accuracy_settings_are_422_naming_the_field_and_create_nothing(
    client: TestClient, target: dict[str, Any], accuracy: dict[str, Any], field: str, words: str
) -> None:
    body = {"id": DEP, "modelId": MODEL, "label": "bad", "targetName": "y", **target}
    response = client.post("/api/v2/deployments/", json={**body, "accuracy": accuracy})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "accuracy", field]
    assert words in error["msg"]
    assert client.get("/api/v2/deployments/").json()["count"] == 0


def _hours() -> tuple[datetime, dict[str, str]]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    day = {
        "start": (now - timedelta(hours=23)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
        "bucketSize": "PT1H",
    }
    return now, day


def test_own_thresholds_replace_the_services(store: Store, token: str) -> None:
    client = make_client(store, accuracy_reference_rows=200)
    client.headers["Authorization"] = f"Bearer {token}"
    lenient = {"yellowPercent": 40, "redPercent": 60}
    create_deployment(client, **BINARY, accuracy=lenient)
    create_deployment(client, DEP2, MODEL2, **BINARY)
    now, day = _hours()
    for dep in (DEP, DEP2):
        _rows(client, dep, now - timedelta(hours=10), 170, 30)  # reference: 85 %
        _rows(client, dep, now - timedelta(hours=2), 120, 80)  # 60 %: 29 % worse
    statuses = {
        dep: client.get(f"/api/v2/deployments/{dep}/accuracy/", params=day).json()["status"]
        for dep in (DEP, DEP2)
    }
    assert statuses == {DEP: "green", DEP2: "red"}
    health = client.get(f"/api/v2/deployments/{DEP}/").json()["accuracyHealth"]
    assert health["status"] == "green"


def test_own_baseline_value_replaces_the_measured_reference(client: TestClient) -> None:
    create_deployment(client, **BINARY, accuracy={"baselineValue": 0.95})
    create_deployment(client, DEP2, MODEL2, **BINARY)
    now, day = _hours()
    for dep in (DEP, DEP2):
        _rows(client, dep, now - timedelta(hours=3), 170, 30)  # 85 % from the start
    own = client.get(f"/api/v2/deployments/{DEP}/accuracy/", params=day).json()
    assert own["status"] == "yellow"  # 10.5 % below 0.95
    assert own["metrics"]["accuracy"]["baselineValue"] == 0.95
    measured = client.get(f"/api/v2/deployments/{DEP2}/accuracy/", params=day).json()
    assert measured["status"] == "green"
    assert measured["metrics"]["accuracy"]["baselineValue"] == pytest.approx(0.85)


def test_own_metric_is_the_one_judged(client: TestClient) -> None:
    create_deployment(client, **BINARY, accuracy={"metric": "logLoss"})
    now, day = _hours()
    _rows(client, DEP, now - timedelta(hours=3), 170, 30)
    report = client.get(f"/api/v2/deployments/{DEP}/accuracy/", params=day).json()
    assert report["metric"] == "logLoss"
    assert report["metrics"]["logLoss"]["baselineValue"] == pytest.approx(
        -(0.85 * math.log(0.8) + 0.15 * math.log(0.2))
    )
