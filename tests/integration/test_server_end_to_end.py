"""End to end: spooled records through the agent into ``spoolwatch serve``, numbers checked.

DataRobot's own spool files (JSON and binary) and our Reporter writing to filesystem,
RabbitMQ and SQS (moto) spools; the agent drains them over HTTP into the service (uvicorn
on 127.0.0.1, SQLite store, auth on) and the query API must return what was reported.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from spoolwatch.agent import Agent, AgentConfig, ChannelConfig, TargetConfig
from spoolwatch.agent.config import RetryConfig
from spoolwatch.records import DataType, decode_json
from spoolwatch.server.app import create_app
from spoolwatch.server.settings import ServerSettings
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.sinks.secrets import Secret
from spoolwatch.store.base import Store, open_store
from spoolwatch.store.deployments import get_deployment
from spoolwatch.store.tokens import create_token
from tests.conftest import free_port

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
DAY = {"start": "2026-11-24T00:00:00Z", "end": "2026-11-25T00:00:00Z"}


class Service:
    """``create_app`` served by uvicorn in a thread, with an admin token and its HTTP client
    and an ingest token for agents."""

    def __init__(self, store: Store) -> None:
        import uvicorn

        self.store = store
        self.token = create_token(store, "e2e")[1]
        # Agents get only what they need: the end-to-end path must work with it.
        self.agent_token = create_token(store, "e2e-agent", "ingest")[1]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(store, settings=ServerSettings(cache_seconds=0.0))
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.client = httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {self.token}"}
        )

    def __enter__(self) -> Service:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(f"/api/v2/deployments/{DEP}/{path}", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def drain(self, address: str, heartbeat: bool = False) -> None:
        config = AgentConfig(
            target=TargetConfig(url=self.url, api_token=Secret(self.agent_token)),
            channels=(ChannelConfig(name="e2e", address=address),),
            batching=BatchingConfig(max_records=50, wait_seconds=0.2, max_records_per_request=10),
            retry=RetryConfig(initial_seconds=0.05, max_seconds=0.5, shutdown_grace_seconds=2),
            heartbeat=heartbeat,
            stats_interval_seconds=1,
        )
        result = Agent(config).run(until_empty=True, max_seconds=60)
        assert result.exit_code == 0 and result.quarantined == 0


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[Service]:
    store = open_store(f"sqlite:///{tmp_path / 'service.db'}")
    with Service(store) as running:
        yield running
    store.close()


def _create(service: Service, training: dict[str, list[Any]], **extra: Any) -> None:
    body = {
        "id": DEP,
        "modelId": MODEL,
        "label": "e2e",
        "targetType": "regression",
        "targetName": "y",
        "trainingData": training,
        **extra,
    }
    response = service.client.post("/api/v2/deployments/", json=body)
    assert response.status_code == 201, response.text


def _baseline(service: Service) -> Any:
    deployment = get_deployment(service.store, DEP)
    assert deployment is not None and deployment.baseline is not None
    return deployment.baseline


@pytest.mark.parametrize("spool_dir", ["fs_json", "fs_binary"])
def test_datarobot_spool_files_reach_the_service_with_their_numbers(
    service: Service, fixtures_dir: Path, tmp_path: Path, spool_dir: str
) -> None:
    rng = np.random.default_rng(3)
    _create(
        service,
        {
            "age": rng.uniform(18, 80, 200).round(1).tolist(),
            "region": rng.choice(["north", "south", "east"], 200).tolist(),
            "y": rng.uniform(50, 300, 200).tolist(),
        },
    )
    second = {
        "id": "650a1b2c3d4e5f6a7b8c9d10",
        "modelId": "650a1b2c3d4e5f6a7b8c9d11",
        "label": "second",
    }
    assert service.client.post("/api/v2/deployments/", json=second).status_code == 201
    spool = tmp_path / "spool"
    shutil.copytree(
        fixtures_dir / spool_dir, spool, ignore=shutil.ignore_patterns("*.txt", "*.json")
    )
    service.drain(str(spool), heartbeat=True)

    stats = service.get("serviceStats/", **DAY)["metrics"]
    # the two DEPLOYMENT_STATS reports: 3 predictions in 12.5 ms, then 10 in 85.25 ms with a
    # user error
    assert stats["totalRequests"] == 2 and stats["totalPredictions"] == 13
    assert stats["userErrorRate"] == pytest.approx(0.5)
    assert stats["executionTime"] == pytest.approx((12.5 + 85.25) / 2)

    lines = (fixtures_dir / "fs_json" / "fs_spool.1").read_bytes().splitlines()
    records = [decode_json(line) for line in lines if line.strip()]
    ages: list[Any] = []
    for record in records:
        features = record.payload.get("features") or {}
        if (
            record.data_type == DataType.PREDICTIONS_DATA
            and record.deployment_id == DEP
            and "age" in features
            and not record.payload.get("skipDriftTracking")
        ):
            ages.extend(features["age"])
        if record.data_type == DataType.PREDICTION_STATS:
            # client-side aggregates count each histogram centroid as its rows
            stat = record.payload["numericAggregateMap"]["age"]
            for bucket in stat["histogram"]["bucketList"]:
                ages.extend([bucket["centroid"]] * bucket["count"])
            ages.extend([None] * stat["missingCount"])
    drift = {f["name"]: f for f in service.get("featureDrift/", **DAY)["data"]}
    assert (
        drift["age"]["histogram"]["current"] == _baseline(service).bin_counts("age", ages).tolist()
    )
    # 4 raw rows (one missing), then aggregates of 3 + 1 missing and of 2
    assert drift["age"]["sampleSize"] == len(ages) == 10

    accuracy = service.get("accuracy/", **DAY)
    # r-1 (predicted 120.5, actual 118.0) joins; "42" has no prediction; c-2 is a
    # classification row that a regression deployment does not score
    assert accuracy["sampleSize"] == 1
    assert accuracy["metrics"]["mae"]["value"] == pytest.approx(2.5)
    assert accuracy["actualsWithoutPredictions"] == 1

    events = service.get("events/", **DAY)
    assert {e["eventType"] for e in events["data"]} == {
        "externalNaNPredictions",
        "prediction_request.failed",
    }
    metric = service.get(
        "customMetrics/6512aa00bb11cc22dd33ee45/summary/",
        start="2024-03-01T00:00:00Z",
        end="2024-03-02T00:00:00Z",
    )
    assert metric["metric"]["count"] == 2 and metric["metric"]["last"] == 2.5
    fleet = service.client.get("/api/v2/spoolwatch/agents/").json()
    assert fleet["count"] == 1 and "e2e" in fleet["data"][0]["backlog"]


def _rabbit(request: pytest.FixtureRequest) -> Iterator[str]:
    url: str = request.getfixturevalue("rabbitmq_url")
    pytest.importorskip("pika")
    address = f"{url}?queue=sw-e2e-{uuid.uuid4().hex[:10]}"
    yield address
    from spoolwatch.spools.registry import open_spool

    spool = open_spool(address)
    spool.delete_queues()  # type: ignore[attr-defined]
    spool.close()


@pytest.fixture(params=["filesystem", "rabbitmq", "sqs"])
def spool_address(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "filesystem":
        yield str(tmp_path / "reporter-spool")
    elif request.param == "rabbitmq":
        yield from _rabbit(request)
    else:
        request.getfixturevalue("moto_server")
        import boto3

        name = f"sw-e2e-{uuid.uuid4().hex[:10]}"
        yield str(boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"])


def test_reporter_records_reach_the_service_through_every_spool(
    service: Service, spool_address: str, tmp_path: Path
) -> None:
    from spoolwatch.report import Reporter

    if "://" not in spool_address:
        Path(spool_address).mkdir()
    rng = np.random.default_rng(11)
    _create(
        service,
        {
            "x": rng.normal(0, 1, 500).tolist(),
            "color": rng.choice(["red", "blue"], 500).tolist(),
            "y": rng.normal(10, 2, 500).tolist(),
        },
    )
    x = rng.normal(0.5, 1, 300).round(3).tolist()
    color = rng.choice(["red", "blue", "green"], 300).tolist()
    predictions = rng.normal(10, 2, 300).round(3).tolist()
    ids = [f"a-{i}" for i in range(300)]
    actuals = {f"a-{i}": predictions[i] + (1.0 if i % 2 else -1.0) for i in range(0, 300, 3)}
    with Reporter(spool_address, deployment_id=DEP, model_id=MODEL, background=False) as reporter:
        reporter.report_deployment_stats(200, 40.0)
        reporter.report_deployment_stats(100, 80.0, system_error=True)
        reporter.report_predictions_data({"x": x, "color": color}, predictions, association_ids=ids)
        reporter.report_actuals(
            [{"associationId": k, "actualValue": v} for k, v in actuals.items()]
        )
        reporter.report_deployment_metric("6512aa00bb11cc22dd33ee99", [1.0, 2.0, 6.0])
        reporter.report_event("model_deployed", "deployed for the test")
    service.drain(spool_address)

    stats = service.get("serviceStats/")["metrics"]
    assert (stats["totalPredictions"], stats["totalRequests"]) == (300, 2)
    assert stats["serverErrorRate"] == pytest.approx(0.5)
    drift = {f["name"]: f for f in service.get("featureDrift/")["data"]}
    baseline = _baseline(service)
    assert drift["x"]["histogram"]["current"] == baseline.bin_counts("x", x).tolist()
    assert drift["color"]["histogram"]["current"] == baseline.bin_counts("color", color).tolist()
    target = service.get("targetDrift/")
    assert target["sampleSize"] == 300
    assert target["meanPrediction"] == pytest.approx(float(np.mean(predictions)))
    accuracy = service.get("accuracy/")
    assert accuracy["sampleSize"] == len(actuals) == 100
    assert accuracy["predictionsWithoutActuals"] == 200
    assert accuracy["metrics"]["mae"]["value"] == pytest.approx(1.0)
    metric = service.get("customMetrics/6512aa00bb11cc22dd33ee99/summary/")["metric"]
    assert (metric["count"], metric["sum"]) == (3, 9.0)
    assert service.get("events/")["data"][0]["eventType"] == "model_deployed"


def test_agent_run_ends_with_a_stopped_heartbeat_on_the_service(
    service: Service, tmp_path: Path
) -> None:
    from spoolwatch.report import Reporter
    from spoolwatch.spools.filesystem import FilesystemSpool

    body = {"id": DEP, "modelId": MODEL, "label": "short run"}
    assert service.client.post("/api/v2/deployments/", json=body).status_code == 201
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    spool = FilesystemSpool(str(spool_dir))
    with Reporter(spool, deployment_id=DEP, model_id=MODEL) as reporter:
        for _ in range(3):
            reporter.report_deployment_stats(num_predictions=2, execution_time_ms=5.0)
    written = spool.backlog().total
    spool.close()
    config = AgentConfig(
        target=TargetConfig(url=service.url, api_token=Secret(service.agent_token)),
        channels=(ChannelConfig(name="e2e", address=str(spool_dir)),),
        agent_id="short-run",
        heartbeat_interval_seconds=60,
    )
    result = Agent(config).run(until_empty=True, max_seconds=60)
    assert result.exit_code == 0 and result.records_sent == written
    response = service.client.get("/api/v2/spoolwatch/agents/")
    agent = next(a for a in response.json()["data"] if a["agentId"] == "short-run")
    assert agent["state"] == "stopped" and agent["stale"] is False
    assert agent["details"]["sent"] == written and agent["details"]["stoppedBy"] == "empty"
