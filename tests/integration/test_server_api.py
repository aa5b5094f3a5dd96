"""The monitoring service over HTTP (FastAPI's TestClient), on SQLite and on PostgreSQL.

Every test runs twice: against a SQLite file and against the real PostgreSQL server on
127.0.0.1 (a fresh database per session, dropped afterwards).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, text

from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.store import schema
from spoolwatch.store.base import Store, open_store
from spoolwatch.store.tokens import create_token, revoke_token
from tests.databases import new_postgres_database

with warnings.catch_warnings():
    # starlette warns at import that it prefers httpx2; the client works the same.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
DEP2 = "650a1b2c3d4e5f6a7b8c9d10"
MODEL2 = "650a1b2c3d4e5f6a7b8c9d11"
DAY = {"start": "2026-11-24T00:00:00Z", "end": "2026-11-25T00:00:00Z"}


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this session, dropped at the end."""
    with new_postgres_database(postgres_url, "test") as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def session_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """One migrated store per backend for the session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'spoolwatch.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture()
def store(session_store: Store) -> Store:
    """The session's store, emptied."""
    with session_store.write() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            if table.name != "schema_version":
                conn.execute(delete(table))
    return session_store


def make_client(store: Store, **settings: Any) -> TestClient:
    """A client of a fresh app over ``store`` (no token cache, alerts checked every time)."""
    options = {"cache_seconds": 0.0, "alert_check_seconds": 0.0, **settings}
    return TestClient(create_app(store, settings=ServerSettings(**options)))


@pytest.fixture()
def token(store: Store) -> str:
    return create_token(store, "tests")[1]


@pytest.fixture()
def client(store: Store, token: str) -> TestClient:
    c = make_client(store)
    c.headers["Authorization"] = f"Bearer {token}"
    return c


def create_deployment(
    client: TestClient, dep: str = DEP, model: str = MODEL, **extra: Any
) -> dict[str, Any]:
    body = {
        "id": dep,
        "modelId": model,
        "label": "test",
        "targetType": "regression",
        "targetName": "y",
        **extra,
    }
    response = client.post("/api/v2/deployments/", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def fixture_requests(fixtures_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every request of DataRobot's API spooler run: (path, body). Bodies the capture
    stubbed (12 000 custom-metric buckets) are rebuilt from their recorded head and count."""
    out = []
    for entry in json.loads((fixtures_dir / "api" / "http_requests.json").read_text()):
        path = "/api/v2/" + entry["url"].split("/api/v2/", 1)[1]
        body = entry.get("body_parsed")
        if body is None:
            head = entry["body_head"]
            first = head[head.index("[") + 1 : head.index("}") + 1]
            body = {"modelId": None, "buckets": [json.loads(first)] * entry["buckets"]}
        out.append((path, body))
    return out


# ------------------------------------------------------------------------- auth, version


def test_version_answers_like_datarobot(client: TestClient) -> None:
    body = client.get("/api/v2/version/").json()
    assert body["major"] == 2 and body["minor"] >= 31
    assert body["versionString"] == f"2.{body['minor']}"


def test_missing_token_is_401_with_bearer_challenge(store: Store, token: str) -> None:
    c = make_client(store)
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer wrong"}):
        response = c.get("/api/v2/deployments/", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["detail"]
    assert c.post(f"/api/v2/deployments/{DEP}/actuals/fromJSON/", json={}).status_code == 401


def test_token_with_two_spaces_as_datarobot_sends_it_is_accepted(store: Store, token: str) -> None:
    c = make_client(store)
    for header in (f"Bearer  {token}", f"Token {token}"):
        assert c.get("/api/v2/version/", headers={"Authorization": header}).status_code == 200


def test_revoked_token_is_refused(store: Store, token: str) -> None:
    c = make_client(store)
    headers = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/v2/version/", headers=headers).status_code == 200
    assert revoke_token(store, "tests") == 1
    assert c.get("/api/v2/version/", headers=headers).status_code == 401


def test_no_auth_service_answers_without_token(store: Store) -> None:
    c = make_client(store, auth=False)
    assert c.get("/api/v2/deployments/").status_code == 200


# ------------------------------------------------------------------------- deployments


def test_deployment_is_created_listed_fetched_and_deleted(client: TestClient) -> None:
    created = create_deployment(client, classNames=None)
    assert created["id"] == DEP and created["modelId"] == MODEL
    listed = client.get("/api/v2/deployments/").json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == DEP
    one = client.get(f"/api/v2/deployments/{DEP}/").json()
    assert one["serviceHealth"]["status"] == "unknown"
    assert client.delete(f"/api/v2/deployments/{DEP}/").status_code == 204
    assert client.get(f"/api/v2/deployments/{DEP}/").status_code == 404
    assert client.delete(f"/api/v2/deployments/{DEP}/").status_code == 404


def test_deployment_ids_are_24_hex_characters(client: TestClient) -> None:
    response = client.post("/api/v2/deployments/", json={"label": "auto"})
    assert response.status_code == 201
    assert len(response.json()["id"]) == 24 and int(response.json()["id"], 16) >= 0
    bad = client.post("/api/v2/deployments/", json={"id": "not-an-id", "label": "x"})
    assert bad.status_code == 422 and "24 hexadecimal" in bad.text


def test_existing_deployment_id_is_409(client: TestClient) -> None:
    create_deployment(client)
    again = client.post("/api/v2/deployments/", json={"id": DEP, "label": "again"})
    assert again.status_code == 409


def test_deployment_with_training_data_has_a_baseline(client: TestClient) -> None:
    created = create_deployment(
        client,
        targetType="binary",
        targetName="label",
        classNames=["no", "yes"],
        trainingData={
            "x": [1.0, 2.0, 3.0, 4.0],
            "c": ["a", "b", "a", "b"],
            "label": ["no", "yes", "no", "yes"],
        },
        featureTypes={"x": "categorical"},
    )
    assert created["hasBaseline"] is True
    assert {f["name"]: f["featureType"] for f in created["features"]} == {
        "x": "categorical",
        "c": "categorical",
    }


def test_class_names_for_regression_are_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v2/deployments/",
        json={"label": "x", "targetType": "regression", "classNames": ["a", "b"]},
    )
    assert response.status_code == 422
    assert client.get("/api/v2/deployments/").json()["count"] == 0


# ------------------------------------------------------------------------- ingestion


def test_every_request_of_datarobots_library_is_ingested(
    client: TestClient, fixtures_dir: Path
) -> None:
    create_deployment(client)
    create_deployment(client, DEP2, MODEL2)
    for path, body in fixture_requests(fixtures_dir):
        response = client.post(path, json=body)
        assert response.status_code == 202, (path, response.text)
        if "/actuals/" in path:
            location = response.headers["location"]
            assert location.startswith("http://testserver/api/v2/status/")
            status = client.get(location, follow_redirects=False)
            assert status.status_code == 303
    stats = client.get(f"/api/v2/deployments/{DEP}/serviceStats/", params=DAY).json()
    # three predictionRequests posts (one retried after a simulated 503): 3 + 3 + 10
    assert stats["metrics"]["totalRequests"] == 3
    assert stats["metrics"]["totalPredictions"] == 16
    events = client.get(f"/api/v2/deployments/{DEP}/events/", params=DAY).json()
    assert [e["eventType"] for e in events["data"]] == [
        "prediction_request.failed",
        "externalNaNPredictions",
    ]
    metric = client.get(
        f"/api/v2/deployments/{DEP}/customMetrics/6512aa00bb11cc22dd33ee45/summary/",
        params={"start": "2024-03-01T00:00:00Z", "end": "2024-03-02T00:00:00Z"},
    ).json()
    assert metric["metric"]["count"] == 2 and metric["metric"]["sum"] == 4.0


def test_unknown_deployment_is_404(client: TestClient) -> None:
    body = {
        "data": [
            {"timestamp": "2026-11-24 10:00:00.000+0000", "numPredictions": 1, "executionTime": 1.0}
        ]
    }
    assert (
        client.post(
            f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/", json=body
        ).status_code
        == 404
    )
    for query in ("serviceStats", "featureDrift", "targetDrift", "accuracy", "events"):
        assert client.get(f"/api/v2/deployments/{DEP}/{query}/").status_code == 404
    event = {
        "timestamp": "2026-11-24 10:00:00.000000",
        "eventType": "x",
        "message": "m",
        "deploymentId": DEP,
    }
    assert client.post("/api/v2/remoteEvents/", json=event).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "data": [
                    {
                        "timestamp": "2026-11-24 10:00:00.000+0000",
                        "numPredictions": "many",
                        "executionTime": 1.0,
                    }
                ]
            },
            "numPredictions",
        ),
        (
            {"data": [{"timestamp": "yesterday", "numPredictions": 1, "executionTime": 1.0}]},
            "timestamp",
        ),
        ({"data": []}, "data"),
        ({}, "data"),
    ],
)
def test_invalid_body_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    create_deployment(client)
    response = client.post(f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/", json=body)
    assert response.status_code == 422
    assert any(field in detail["loc"] for detail in response.json()["detail"])
    stats = client.get(f"/api/v2/deployments/{DEP}/serviceStats/", params=DAY).json()
    assert stats["metrics"]["totalRequests"] == 0


def test_predictions_and_ids_of_different_lengths_are_422(client: TestClient) -> None:
    create_deployment(client)
    body = {
        "data": [
            {
                "timestamp": "2026-11-24 10:00:00.000+0000",
                "predictions": [1, 2],
                "associationIds": ["a"],
            }
        ]
    }
    response = client.post(f"/api/v2/deployments/{DEP}/predictionInputs/fromJSON/", json=body)
    assert response.status_code == 422 and "associationIds" in response.text


def test_malformed_json_is_422(client: TestClient) -> None:
    create_deployment(client)
    response = client.post(
        f"/api/v2/deployments/{DEP}/actuals/fromJSON/",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422 and "invalid JSON" in response.text


def test_body_above_the_limit_is_413(store: Store, token: str) -> None:
    c = make_client(store, max_body_bytes=4096)
    c.headers["Authorization"] = f"Bearer {token}"
    create_deployment(c)
    big = {"data": [{"associationId": f"id-{i}", "actualValue": 1.0} for i in range(500)]}
    response = c.post(f"/api/v2/deployments/{DEP}/actuals/fromJSON/", json=big)
    assert response.status_code == 413 and "larger than 4096" in response.text
    accuracy = c.get(f"/api/v2/deployments/{DEP}/accuracy/").json()
    assert accuracy["actualsWithoutPredictions"] == 0


def _stats_body(n: int, user_error: bool = False) -> dict[str, Any]:
    return {
        "data": [
            {
                "timestamp": "2026-11-24 10:15:00.000+0000",
                "modelId": MODEL,
                "numPredictions": n,
                "executionTime": 10.0,
                "userError": user_error,
            }
        ]
    }


def test_repeated_idempotency_key_changes_nothing_and_answers_the_same(client: TestClient) -> None:
    create_deployment(client)
    path = f"/api/v2/deployments/{DEP}/actuals/fromJSON/"
    body = {"data": [{"associationId": "a-1", "actualValue": 1.0}]}
    first = client.post(path, json=body, headers={"Idempotency-Key": "k-1"})
    second = client.post(path, json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert first.headers["location"] == second.headers["location"]
    stats_path = f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"
    for _ in range(3):
        assert (
            client.post(
                stats_path, json=_stats_body(5), headers={"Idempotency-Key": "k-2"}
            ).status_code
            == 202
        )
    stats = client.get(f"/api/v2/deployments/{DEP}/serviceStats/", params=DAY).json()
    assert stats["metrics"]["totalPredictions"] == 5


def test_idempotency_key_reused_for_another_request_is_422(client: TestClient) -> None:
    create_deployment(client)
    path = f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"
    client.post(path, json=_stats_body(1), headers={"Idempotency-Key": "k"})
    other = client.post(
        f"/api/v2/deployments/{DEP}/actuals/fromJSON/",
        json={"data": [{"associationId": "a", "actualValue": 1}]},
        headers={"Idempotency-Key": "k"},
    )
    assert other.status_code == 422


def test_records_already_ingested_are_not_folded_again(client: TestClient) -> None:
    create_deployment(client)
    path = f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"
    first = client.post(path, json=_stats_body(7), headers={"X-Spoolwatch-Record-Ids": "r1,r2"})
    again = client.post(path, json=_stats_body(7), headers={"X-Spoolwatch-Record-Ids": "r2,r1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["duplicate"] is True
    stats = client.get(f"/api/v2/deployments/{DEP}/serviceStats/", params=DAY).json()
    assert stats["metrics"]["totalPredictions"] == 7


# ------------------------------------------------------------------------- statistics


def test_service_stats_match_the_reported_requests(client: TestClient) -> None:
    create_deployment(client)
    path = f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"
    items = [
        {
            "timestamp": f"2026-11-24 {h:02d}:10:00.000+0000",
            "modelId": MODEL,
            "numPredictions": n,
            "executionTime": t,
            "userError": u,
            "systemError": s,
        }
        for h, n, t, u, s in [
            (9, 10, 20.0, False, False),
            (9, 5, 40.0, True, False),
            (10, 1, 60.0, False, True),
            (10, 4, 80.0, False, False),
        ]
    ]
    assert client.post(path, json={"data": items[:3]}).status_code == 202
    assert client.post(path, json={"data": items[3:]}).status_code == 202
    stats = client.get(
        f"/api/v2/deployments/{DEP}/serviceStats/", params={**DAY, "bucketSize": "PT1H"}
    ).json()
    metrics = stats["metrics"]
    assert metrics["totalPredictions"] == 20 and metrics["totalRequests"] == 4
    assert metrics["executionTime"] == pytest.approx(50.0)
    assert metrics["userErrorRate"] == pytest.approx(0.25)
    assert metrics["serverErrorRate"] == pytest.approx(0.25)
    assert metrics["peakLoad"] == 2  # two requests in the same minute of each hour
    assert stats["status"] == "red"
    by_hour = {
        b["period"]["start"][11:13]: b["metrics"]["totalPredictions"]
        for b in stats["buckets"]
        if b["metrics"]["totalRequests"]
    }
    assert by_hour == {"09": 15, "10": 5}
    other_model = client.get(
        f"/api/v2/deployments/{DEP}/serviceStats/", params={**DAY, "modelId": MODEL2}
    ).json()
    assert other_model["metrics"]["totalRequests"] == 0


def _drift_deployment(client: TestClient) -> None:
    training = {
        "x": [float(i) for i in range(100)],
        "color": ["red", "blue"] * 50,
        "y": [float(i) * 2 for i in range(100)],
    }
    create_deployment(client, trainingData=training)


def test_feature_histograms_match_the_input(client: TestClient, store: Store) -> None:
    _drift_deployment(client)
    values = [5.0, 15.0, 15.5, 95.0, 250.0, None]
    colors = ["red", "red", "green", None, "blue", "blue"]
    body = {
        "data": [
            {
                "timestamp": "2026-11-24 10:00:00.000+0000",
                "modelId": MODEL,
                "features": [{"name": "x", "values": values}, {"name": "color", "values": colors}],
                "predictions": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            }
        ]
    }
    path = f"/api/v2/deployments/{DEP}/predictionInputs/fromJSON/"
    assert client.post(path, json=body).status_code == 202
    assert client.post(path, json=body).status_code == 202
    drift = client.get(f"/api/v2/deployments/{DEP}/featureDrift/", params=DAY).json()
    features = {f["name"]: f for f in drift["data"]}
    from spoolwatch.store.deployments import get_deployment

    baseline = get_deployment(store, DEP).baseline  # type: ignore[union-attr]
    assert baseline is not None
    for name, column in (("x", values), ("color", colors)):
        expected = (baseline.bin_counts(name, column) * 2).tolist()
        assert features[name]["histogram"]["current"] == expected
        assert features[name]["sampleSize"] == 12
        assert features[name]["baselineSampleSize"] == 100
    assert features["x"]["missingCount"] == 2
    assert features["color"]["histogram"]["labels"][-2:] == ["(other)", "(missing)"]
    target = client.get(f"/api/v2/deployments/{DEP}/targetDrift/", params=DAY).json()
    assert target["sampleSize"] == 12
    assert target["meanPrediction"] == pytest.approx(3.5)


def test_skip_drift_tracking_leaves_histograms_alone(client: TestClient) -> None:
    _drift_deployment(client)
    body = {
        "data": [
            {
                "timestamp": "2026-11-24 10:00:00.000+0000",
                "features": [{"name": "x", "values": [1.0, 2.0]}],
                "predictions": [1.0, 2.0],
            }
        ],
        "skipDriftTracking": True,
    }
    assert (
        client.post(f"/api/v2/deployments/{DEP}/predictionInputs/fromJSON/", json=body).status_code
        == 202
    )
    drift = client.get(f"/api/v2/deployments/{DEP}/featureDrift/", params=DAY).json()
    assert all(f["sampleSize"] == 0 for f in drift["data"])


def test_drifted_feature_turns_red(client: TestClient) -> None:
    _drift_deployment(client)
    shifted = [float(80 + i % 20) for i in range(2000)]
    body = {
        "data": [
            {
                "timestamp": "2026-11-24 10:00:00.000+0000",
                "features": [
                    {"name": "x", "values": shifted},
                    {"name": "color", "values": ["red", "blue"] * 1000},
                ],
            }
        ]
    }
    assert (
        client.post(f"/api/v2/deployments/{DEP}/predictionInputs/fromJSON/", json=body).status_code
        == 202
    )
    drift = client.get(f"/api/v2/deployments/{DEP}/featureDrift/", params=DAY).json()
    status = {f["name"]: f["status"] for f in drift["data"]}
    assert status == {"x": "red", "color": "green"}
    assert drift["status"] == "red"


def test_calibrated_class_probabilities_show_no_target_drift(client: TestClient) -> None:
    # Training labels are 30 % "yes"; the model says 0.3 for every row. Counting each row's
    # most probable class would see 0 % "yes" (red); the probabilities expect 30 %.
    labels = ["yes"] * 300 + ["no"] * 700
    create_deployment(
        client,
        targetType="binary",
        targetName="label",
        classNames=["no", "yes"],
        trainingData={"x": [float(i) for i in range(1000)], "label": labels},
    )
    body = {
        "data": [
            {
                "timestamp": "2026-11-24 10:00:00.000+0000",
                "predictions": [[0.7, 0.3]] * 1000,
                "classNames": ["no", "yes"],
            }
        ]
    }
    path = f"/api/v2/deployments/{DEP}"
    assert client.post(f"{path}/predictionInputs/fromJSON/", json=body).status_code == 202
    target = client.get(f"{path}/targetDrift/", params=DAY).json()
    no, yes = target["histogram"]["current"][:2]
    assert target["histogram"]["labels"][:2] == ["no", "yes"]
    assert (no + yes, abs(yes - 300) <= 1) == (1000, True)
    assert target["status"] == "green" and target["driftScore"] < 0.001
    assert target["meanPrediction"] == pytest.approx(0.3)


def test_drift_of_one_hour_shows_in_the_day_status_and_its_bucket(client: TestClient) -> None:
    _drift_deployment(client)
    path = f"/api/v2/deployments/{DEP}/predictionInputs/fromJSON/"
    for hour in range(21):
        shifted = hour == 20
        values = [float(80 + i % 20) if shifted else float(i % 100) for i in range(300)]
        body = {
            "data": [
                {
                    "timestamp": f"2026-11-24 {hour:02d}:10:00.000+0000",
                    "features": [
                        {"name": "x", "values": values},
                        {"name": "color", "values": ["red", "blue"] * 150},
                    ],
                    "predictions": [v * 2 for v in values],
                }
            ]
        }
        assert client.post(path, json=body).status_code == 202
    drift = client.get(f"/api/v2/deployments/{DEP}/featureDrift/", params=DAY).json()
    x, color = (next(f for f in drift["data"] if f["name"] == n) for n in ("x", "color"))
    # the day's mix is close to the baseline, the shifted hour is not
    assert x["driftScore"] < 0.25 and x["status"] == "red" and drift["status"] == "red"
    assert x["driftingHours"] == 1 and x["peakDriftScore"] > 1.0
    assert color["status"] == "green" and color["driftingHours"] == 0
    assert color["peakDriftScore"] is None
    target = client.get(
        f"/api/v2/deployments/{DEP}/targetDrift/", params={**DAY, "bucketSize": "PT1H"}
    ).json()
    statuses = [b["status"] for b in target["buckets"]]
    assert statuses[:20] == ["green"] * 20 and statuses[20] == "red"
    assert statuses[21:] == ["unknown"] * 3
    assert target["status"] == "red" and target["driftingHours"] == 1


@pytest.mark.parametrize("actuals_first", [False, True])
def test_accuracy_joins_actuals_whichever_arrives_first(
    client: TestClient, actuals_first: bool
) -> None:
    create_deployment(client, targetType="binary", targetName="label", classNames=["no", "yes"])
    predictions = {
        "data": [
            {
                "timestamp": "2026-11-24 10:00:00.000+0000",
                "predictions": [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]],
                "associationIds": ["a", "b", "c", "d"],
                "classNames": ["no", "yes"],
            }
        ]
    }
    actuals = {
        "data": [
            {"associationId": "a", "actualValue": "no"},
            {"associationId": "b", "actualValue": "yes"},
            {"associationId": "c", "actualValue": "yes"},
            {"associationId": "zzz", "actualValue": "no"},
        ]
    }
    posts = [("predictionInputs", predictions), ("actuals", actuals)]
    for kind, body in reversed(posts) if actuals_first else posts:
        assert (
            client.post(f"/api/v2/deployments/{DEP}/{kind}/fromJSON/", json=body).status_code == 202
        )
    accuracy = client.get(f"/api/v2/deployments/{DEP}/accuracy/", params=DAY).json()
    assert accuracy["sampleSize"] == 3
    assert accuracy["predictionsWithoutActuals"] == 1
    assert accuracy["actualsWithoutPredictions"] == 1
    # rows a (no, 0.1), b (yes, 0.8), c (yes, 0.4): two right at threshold 0.5
    assert accuracy["metrics"]["accuracy"]["value"] == pytest.approx(2 / 3)
    assert accuracy["metrics"]["auc"]["value"] == pytest.approx(1.0)


def _binary_rows(client: TestClient, hour: datetime, right: int, wrong: int, tag: str) -> None:
    """``right`` predictions of the actual class and ``wrong`` of the other, with actuals."""
    ids = [f"{tag}-{i}" for i in range(right + wrong)]
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
    path = f"/api/v2/deployments/{DEP}"
    assert client.post(f"{path}/predictionInputs/fromJSON/", json=body).status_code == 202
    response = client.post(f"{path}/actuals/fromJSON/", json={"data": actuals})
    assert response.status_code == 202


def test_accuracy_status_compares_with_the_first_joined_predictions(
    store: Store, token: str
) -> None:
    client = make_client(store, accuracy_reference_rows=200)
    client.headers["Authorization"] = f"Bearer {token}"
    create_deployment(client, targetType="binary", targetName="label", classNames=["no", "yes"])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    path = f"/api/v2/deployments/{DEP}"
    _binary_rows(client, now - timedelta(hours=10), 170, 30, "early")  # reference: 85%
    health = client.get(f"{path}/").json()["accuracyHealth"]
    assert health["status"] == "green" and "reference 0.85" in health["message"]
    _binary_rows(client, now - timedelta(hours=2), 120, 80, "late")  # 60%: 29% worse
    day = {
        "start": (now - timedelta(hours=23)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
        "bucketSize": "PT1H",
    }
    accuracy = client.get(f"{path}/accuracy/", params=day).json()
    assert accuracy["metric"] == "accuracy" and accuracy["status"] == "red"
    shown = accuracy["metrics"]["accuracy"]
    assert shown["value"] == pytest.approx(290 / 400) and shown["baselineValue"] == 0.85
    assert shown["percentChange"] == pytest.approx((290 / 400 - 0.85) / 0.85 * 100)
    statuses = [b["status"] for b in accuracy["buckets"] if b["sampleSize"]]
    assert statuses == ["green", "red"]
    health = client.get(f"{path}/").json()["accuracyHealth"]
    assert health["status"] == "red" and "worse in 1 of 24 hours, at worst 0.6" in health["message"]


def test_accuracy_status_is_unknown_below_100_joined_rows(client: TestClient) -> None:
    create_deployment(client, targetType="binary", targetName="label", classNames=["no", "yes"])
    _binary_rows(client, datetime.now(UTC) - timedelta(hours=1), 50, 49, "few")
    accuracy = client.get(f"/api/v2/deployments/{DEP}/accuracy/").json()
    assert accuracy["status"] == "unknown" and accuracy["sampleSize"] == 99
    assert accuracy["metrics"]["accuracy"]["baselineValue"] is None
    assert client.get(f"/api/v2/deployments/{DEP}/").json()["accuracyHealth"]["status"] == (
        "unknown"
    )


def test_regression_accuracy_after_actuals(client: TestClient) -> None:
    create_deployment(client)
    predictions = {
        "data": [
            {
                "timestamp": "2026-11-24 10:00:00.000+0000",
                "predictions": [10.0, 20.0],
                "associationIds": ["p", "q"],
            }
        ]
    }
    client.post(f"/api/v2/deployments/{DEP}/predictionInputs/fromJSON/", json=predictions)
    client.post(
        f"/api/v2/deployments/{DEP}/actuals/fromJSON/",
        json={
            "data": [
                {"associationId": "p", "actualValue": 13},
                {"associationId": "q", "actualValue": 16.0},
            ]
        },
    )
    metrics = client.get(f"/api/v2/deployments/{DEP}/accuracy/", params=DAY).json()["metrics"]
    assert metrics["mae"]["value"] == pytest.approx(3.5)
    assert metrics["rmse"]["value"] == pytest.approx((12.5) ** 0.5)


def test_custom_metric_summary_gives_sum_mean_and_last(client: TestClient) -> None:
    create_deployment(client)
    path = f"/api/v2/deployments/{DEP}/customMetrics/m1/fromJSON/"
    client.post(
        path,
        json={
            "modelId": None,
            "buckets": [
                {"timestamp": "2026-11-24 10:05:00.000+0000", "value": 3.0},
                {"timestamp": "2026-11-24 10:01:00.000+0000", "value": 9.0},
            ],
        },
    )
    client.post(
        path,
        json={
            "modelId": None,
            "buckets": [{"timestamp": "2026-11-24 09:59:00.000+0000", "value": 6.0}],
        },
    )
    for aggregation, value in (("sum", 18.0), ("mean", 6.0), ("last", 3.0)):
        summary = client.get(
            f"/api/v2/deployments/{DEP}/customMetrics/m1/summary/",
            params={**DAY, "aggregation": aggregation},
        ).json()
        assert summary["metric"]["value"] == pytest.approx(value)
        assert summary["metric"]["count"] == 3


def test_prediction_stats_are_folded_into_drift(client: TestClient, fixtures_dir: Path) -> None:
    create_deployment(
        client,
        trainingData={
            "age": [20.0, 30.0, 40.0, 50.0] * 10,
            "region": ["east", "north"] * 20,
            "y": [1.0, 2.0] * 20,
        },
    )
    for path, body in fixture_requests(fixtures_dir):
        if "predictionStats" in path:
            assert client.post(path, json=body).status_code == 202
    drift = client.get(f"/api/v2/deployments/{DEP}/featureDrift/", params=DAY).json()
    sizes = {f["name"]: f["sampleSize"] for f in drift["data"]}
    # aggregated ages: 3 + 1 missing, then 2; regions: 3 + 1 missing, then 2
    assert sizes == {"age": 6, "region": 6}


def test_query_with_start_after_end_is_422(client: TestClient) -> None:
    create_deployment(client)
    response = client.get(
        f"/api/v2/deployments/{DEP}/serviceStats/",
        params={"start": DAY["end"], "end": DAY["start"]},
    )
    assert response.status_code == 422


# ------------------------------------------------------------------------- fleet, metrics


def test_heartbeats_make_up_the_fleet(client: TestClient) -> None:
    beat = {
        "agentId": "agent-1",
        "host": "box",
        "recordsPerSecond": 12.5,
        "backlog": {"fs": 40, "sqs": None},
        "errors": {"http_5xx": 2},
        "pid": 7,
    }
    assert client.post("/api/v2/spoolwatch/agents/heartbeat/", json=beat).status_code == 202
    beat["backlog"] = {"fs": 10, "sqs": 5}
    client.post("/api/v2/spoolwatch/agents/heartbeat/", json=beat)
    client.post("/api/v2/spoolwatch/agents/heartbeat/", json={"agentId": "agent-2"})
    fleet = client.get("/api/v2/spoolwatch/agents/").json()
    assert fleet["count"] == 2
    first = next(a for a in fleet["data"] if a["agentId"] == "agent-1")
    assert first["backlog"] == {"fs": 10, "sqs": 5} and first["details"]["pid"] == 7
    assert fleet["totalBacklog"] == 15 and fleet["totalRecordsPerSecond"] == 12.5
    assert client.post("/api/v2/spoolwatch/agents/heartbeat/", json={}).status_code == 422


def test_prometheus_metrics_count_ingestion(client: TestClient) -> None:
    create_deployment(client)
    client.post(f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/", json=_stats_body(3))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'spoolwatch_ingest_requests_total{endpoint="predictionRequests"} 1.0' in response.text
    assert "spoolwatch_deployments 1.0" in response.text


def test_openapi_documents_ingestion_bodies(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/v2/deployments/{deployment_id}/predictionInputs/fromJSON/"]
    ref = body["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[1]
    assert name in spec["components"]["schemas"]
    assert "PredictionItem" in spec["components"]["schemas"]


def test_migrations_run_twice_safely(session_store: Store) -> None:
    from spoolwatch.store.migrations import MIGRATIONS

    assert session_store.migrate() == MIGRATIONS[-1].version
    assert session_store.migrate() == MIGRATIONS[-1].version
    with session_store.read() as conn:
        count = conn.execute(text("SELECT count(*) FROM schema_version")).scalar_one()
    assert count == len(MIGRATIONS)


def test_feature_values_that_cannot_be_binned_are_422_and_fold_nothing(
    client: TestClient,
) -> None:
    _drift_deployment(client)
    body = {
        "data": [
            {
                "timestamp": "2026-11-24 10:00:00.000+0000",
                "features": [
                    {"name": "x", "values": [1.0, 2.0]},
                    {"name": "color", "values": [["red"], {"a": 1}]},
                ],
            }
        ]
    }
    response = client.post(f"/api/v2/deployments/{DEP}/predictionInputs/fromJSON/", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "data", 0, "features", 1, "values"]
    drift = client.get(f"/api/v2/deployments/{DEP}/featureDrift/", params=DAY).json()
    assert all(f["sampleSize"] == 0 for f in drift["data"])


def test_malformed_aggregate_is_422(client: TestClient) -> None:
    create_deployment(client)
    body = {"data": [{"timestamp": "2026-11-24 10:00:00.000+0000", "features": [None]}]}
    response = client.post(f"/api/v2/deployments/{DEP}/predictionStats/fromJSON/", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "data", 0]


def test_unreachable_database_is_503_so_agents_retry() -> None:
    from spoolwatch.store.engine import create_engine

    down = Store(create_engine("postgresql://postgres@127.0.0.1:9/none", pool_pre_ping=False))
    c = TestClient(create_app(down, settings=ServerSettings(auth=False)))
    response = c.post(
        f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/", json=_stats_body(1)
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert "postgres" not in response.text


def test_records_regrouped_with_new_ones_are_folded_once(client: TestClient) -> None:
    create_deployment(client)
    path = f"/api/v2/deployments/{DEP}/predictionRequests/fromJSON/"

    def body(*counts: int) -> dict[str, Any]:
        return {"data": [_stats_body(n)["data"][0] for n in counts]}

    assert (
        client.post(
            path,
            json=body(1, 2),
            headers={"X-Spoolwatch-Record-Ids": "r1,r2", "Idempotency-Key": "a"},
        ).status_code
        == 202
    )
    assert (
        client.post(
            path,
            json=body(2, 4),
            headers={"X-Spoolwatch-Record-Ids": "r2,r3", "Idempotency-Key": "b"},
        ).status_code
        == 202
    )
    stats = client.get(f"/api/v2/deployments/{DEP}/serviceStats/", params=DAY).json()
    assert stats["metrics"]["totalPredictions"] == 7
    assert stats["metrics"]["totalRequests"] == 3


def test_metrics_need_the_token_too(store: Store, token: str) -> None:
    c = make_client(store)
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_agent_without_recent_heartbeat_is_stale(client: TestClient, store: Store) -> None:
    import time

    from spoolwatch.server.heartbeats_api import fleet_state

    client.post(
        "/api/v2/spoolwatch/agents/heartbeat/",
        json={"agentId": "a", "backlog": {"q": 9}, "recordsPerSecond": 3.0},
    )
    fresh = fleet_state(store, stale_seconds=60)
    later = fleet_state(store, stale_seconds=60, now=time.time() + 120)
    assert fresh["data"][0]["stale"] is False and fresh["totalBacklog"] == 9
    assert later["data"][0]["stale"] is True and later["totalBacklog"] == 0
    assert (fresh["data"][0]["state"], later["data"][0]["state"]) == ("running", "silent")


def test_agent_that_said_it_stopped_is_stopped_not_silent(client: TestClient, store: Store) -> None:
    import time

    from spoolwatch.server.heartbeats_api import fleet_state

    beat = {"agentId": "a", "backlog": {"q": 4}, "recordsPerSecond": 2.0, "sent": 31}
    client.post("/api/v2/spoolwatch/agents/heartbeat/", json={**beat, "state": "stopped"})
    fresh = fleet_state(store, stale_seconds=60)
    later = fleet_state(store, stale_seconds=60, now=time.time() + 120)
    for fleet in (fresh, later):
        assert fleet["data"][0]["state"] == "stopped" and fleet["data"][0]["details"]["sent"] == 31
        # a stopped agent's last backlog and rate are no longer the fleet's load
        assert fleet["totalBacklog"] == 0 and fleet["totalRecordsPerSecond"] == 0
    assert "spoolwatch_agents_live 0.0" in client.get("/metrics").text
    client.post("/api/v2/spoolwatch/agents/heartbeat/", json={**beat, "state": "running"})
    again = client.get("/api/v2/spoolwatch/agents/").json()
    assert again["data"][0]["state"] == "running" and again["totalBacklog"] == 4
    assert "spoolwatch_agents_live 1.0" in client.get("/metrics").text


def _buckets(*values: float) -> list[dict[str, Any]]:
    return [{"timestamp": "2026-11-24 10:05:00.000+0000", "value": v} for v in values]


def test_records_merged_differently_on_redelivery_fold_each_item_once(client: TestClient) -> None:
    """Custom-metric buckets and actuals do not map one to one to records: the item counts
    per record say whose they are, so a record sent again in another merge adds nothing."""
    create_deployment(client)
    path = f"/api/v2/deployments/{DEP}/customMetrics/m1/fromJSON/"

    def post(ids: str, items: str, *values: float) -> Any:
        headers = {"X-Spoolwatch-Record-Ids": ids, "X-Spoolwatch-Record-Items": items}
        body = {"modelId": None, "buckets": _buckets(*values)}
        return client.post(path, json=body, headers=headers)

    assert post("a,b", "2,1", 1.0, 2.0, 4.0).status_code == 202
    # b again, merged with a new record c; then a alone (all known: a duplicate).
    assert post("b,c", "1,2", 4.0, 8.0, 16.0).status_code == 202
    assert post("a", "2", 1.0, 2.0).json()["duplicate"] is True
    summary = client.get(
        f"/api/v2/deployments/{DEP}/customMetrics/m1/summary/",
        params={**DAY, "aggregation": "sum"},
    ).json()
    assert summary["metric"]["count"] == 5 and summary["metric"]["value"] == pytest.approx(31.0)


@pytest.mark.parametrize(
    ("ids", "items", "message"),
    [
        ("a,b", "3", "1 counts for 2 record ids"),
        ("a,b", "1,1", "the counts add up to 2, the body has 3 items"),
        ("a,b", "2,x", "comma-separated counts"),
        ("a,b", "3,0", "at least one item"),
    ],
)
def test_record_item_counts_that_do_not_fit_are_refused(
    client: TestClient, ids: str, items: str, message: str
) -> None:
    create_deployment(client)
    response = client.post(
        f"/api/v2/deployments/{DEP}/customMetrics/m1/fromJSON/",
        json={"modelId": None, "buckets": _buckets(1.0, 2.0, 3.0)},
        headers={"X-Spoolwatch-Record-Ids": ids, "X-Spoolwatch-Record-Items": items},
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["header", "X-Spoolwatch-Record-Items"] and message in error["msg"]
    summary = client.get(f"/api/v2/deployments/{DEP}/customMetrics/m1/summary/", params=DAY).json()
    assert summary["metric"]["count"] == 0
