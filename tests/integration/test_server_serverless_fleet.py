"""``GET /api/v2/spoolwatch/fleet/``: the serverless fleet read from moto's SQS and DynamoDB."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.scaling import (
    CircuitBreaker,
    FailureKind,
    LeaseTable,
    ManualClock,
    ScalingSettings,
    SystemClock,
)
from spoolwatch.server.settings import ServerSettings
from spoolwatch.serverless.dynamodb import DynamoBreakerStore, DynamoLeaseStore, create_table
from spoolwatch.serverless.wake.dynamodb import DynamoWakeSwitch
from spoolwatch.service_app import build_app
from spoolwatch.store.base import Store, open_store
from spoolwatch.store.tokens import create_token
from tests.conftest import free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.aws


@dataclass
class Fleet:
    """Two queues and a state table in moto, as the SAM template would create them."""

    data_queue_url: str
    agent_queue_url: str
    table: str
    sqs: Any
    dynamodb: Any

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {
            "fleet_data_queue_url": self.data_queue_url,
            "fleet_agent_queue_url": self.agent_queue_url,
            "fleet_table": self.table,
            "fleet_target_concurrency": 3,
            **extra,
        }


@pytest.fixture
def fleet(moto_server: str) -> Iterator[Fleet]:
    sqs = boto3.client("sqs")
    dynamodb = boto3.client("dynamodb")
    suffix = uuid.uuid4().hex[:8]
    data = sqs.create_queue(QueueName=f"fleet-data-{suffix}")["QueueUrl"]
    agent = sqs.create_queue(QueueName=f"fleet-agent-{suffix}")["QueueUrl"]
    table = f"fleet-state-{suffix}"
    create_table(dynamodb, table)
    yield Fleet(data, agent, table, sqs, dynamodb)
    sqs.close()
    dynamodb.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'spoolwatch.db'}")
    yield store
    store.close()


def _client(store: Store, **settings: Any) -> TestClient:
    token = create_token(store, "fleet-tests")[1]
    client = TestClient(build_app(store, settings=ServerSettings(**settings)))
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_fleet_endpoint_answers_backlog_leases_breaker_and_failures(
    store: Store, fleet: Fleet
) -> None:
    for i in range(4):
        fleet.sqs.send_message(QueueUrl=fleet.data_queue_url, MessageBody=f"record-{i}")
    fleet.sqs.send_message(QueueUrl=fleet.agent_queue_url, MessageBody='{"reason": "recruit"}')
    in_flight = fleet.sqs.receive_message(
        QueueUrl=fleet.data_queue_url, MaxNumberOfMessages=1, VisibilityTimeout=60
    )["Messages"]
    assert len(in_flight) == 1
    scaling = ScalingSettings(target_concurrency=3, lease_seconds=60.0)
    leases = LeaseTable.from_settings(
        DynamoLeaseStore(fleet.dynamodb, fleet.table), scaling, SystemClock()
    )
    lease = leases.acquire("lambda-request-1")
    assert lease is not None
    breaker_store = DynamoBreakerStore(fleet.dynamodb, fleet.table)
    breaker = CircuitBreaker(breaker_store, scaling, SystemClock())
    breaker.record_failure(reason="destination answered 502", kind=FailureKind.SERVER_ERROR)

    response = _client(store, **fleet.settings()).get("/api/v2/spoolwatch/fleet/")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["visible"], body["in_flight"], body["pending_recruits"]) == (3, 1, 1)
    assert body["target_concurrency"] == 3
    assert [(item["slot"], item["holder"]) for item in body["leases"]] == [
        (lease.slot, "lambda-request-1")
    ]
    assert 0 < body["leases"][0]["expiresIn"] <= 60
    assert body["breaker"]["state"] == "closed"  # one failure is below the threshold
    assert body["breaker"]["failuresInWindow"] == 1
    assert [(f["kind"], f["reason"]) for f in body["failures"]] == [
        ("server_error", "destination answered 502")
    ]
    assert body["wake"] == {"armed": True, "changedAt": None, "why": None}  # no flag yet


class _MappingClient:
    """Lambda's UpdateEventSourceMapping, answered at once."""

    def update_event_source_mapping(self, **kwargs: Any) -> dict[str, Any]:
        return {"UUID": kwargs["UUID"], "State": "Updating"}


def test_fleet_endpoint_answers_the_wake_trigger_disarmed_by_an_agent(
    store: Store, fleet: Fleet
) -> None:
    switch = DynamoWakeSwitch(
        fleet.dynamodb,
        fleet.table,
        _MappingClient(),
        "mapping-uuid",
        clock=ManualClock(1_700_000_000.0),
    )
    assert switch.disarm("agents_running")

    response = _client(store, **fleet.settings()).get("/api/v2/spoolwatch/fleet/")

    assert response.status_code == 200, response.text
    assert response.json()["wake"] == {
        "armed": False,
        "changedAt": 1_700_000_000.0,
        "why": "agents_running",
    }


def test_fleet_reading_is_reused_for_a_few_seconds(store: Store, fleet: Fleet) -> None:
    client = _client(store, **fleet.settings(fleet_cache_seconds=60.0))
    first = client.get("/api/v2/spoolwatch/fleet/").json()
    fleet.sqs.send_message(QueueUrl=fleet.data_queue_url, MessageBody="later")
    assert client.get("/api/v2/spoolwatch/fleet/").json() == first
    assert first["visible"] == 0
    fresh = _client(store, **fleet.settings(fleet_cache_seconds=0.0))
    assert fresh.get("/api/v2/spoolwatch/fleet/").json()["visible"] == 1


def test_fleet_endpoint_is_404_when_no_fleet_is_configured(store: Store) -> None:
    response = _client(store).get("/api/v2/spoolwatch/fleet/")
    assert response.status_code == 404
    assert "--fleet-table" in response.json()["detail"]


def test_fleet_endpoint_requires_a_token(store: Store, fleet: Fleet) -> None:
    client = _client(store, **fleet.settings())
    del client.headers["Authorization"]
    response = client.get("/api/v2/spoolwatch/fleet/")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    bad = client.get("/api/v2/spoolwatch/fleet/", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_fleet_endpoint_is_503_when_aws_cannot_be_reached(
    store: Store, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    response = _client(store, **fleet.settings()).get("/api/v2/spoolwatch/fleet/")
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "cannot be read from AWS" in detail and "SQS queue" in detail
    assert "testing" not in detail  # no credentials in the message


def test_fleet_endpoint_is_503_naming_the_extra_when_boto3_is_missing(
    store: Store, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spoolwatch.serverless.aws as aws

    monkeypatch.setattr(aws, "boto3", None)
    response = _client(store, **fleet.settings()).get("/api/v2/spoolwatch/fleet/")
    assert response.status_code == 503
    assert "spoolwatch[serverless]" in response.json()["detail"]


def test_fleet_settings_need_both_queues_and_the_table() -> None:
    with pytest.raises(ConfigError, match="missing: --fleet-agent-queue, --fleet-table"):
        ServerSettings(fleet_data_queue_url="https://sqs.example/1/data")
    assert not ServerSettings().fleet_configured


def test_fleet_settings_come_from_the_fleet_cli_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPOOLWATCH_DATA_QUEUE_URL", "https://sqs.example/1/data")
    monkeypatch.setenv("SPOOLWATCH_AGENT_QUEUE_URL", "https://sqs.example/1/agent")
    monkeypatch.setenv("SPOOLWATCH_STATE_TABLE", "state")
    monkeypatch.setenv("SPOOLWATCH_TARGET_CONCURRENCY", "7")
    settings = ServerSettings.from_env(fleet_table="explicit")
    assert settings.fleet_configured
    assert (settings.fleet_table, settings.fleet_target_concurrency) == ("explicit", 7)
    monkeypatch.setenv("SPOOLWATCH_TARGET_CONCURRENCY", "many")
    with pytest.raises(ConfigError, match="SPOOLWATCH_TARGET_CONCURRENCY"):
        ServerSettings.from_env()


def test_serve_refuses_a_fleet_without_its_queues(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from spoolwatch.cli import app

    result = CliRunner().invoke(
        app,
        ["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--fleet-table", "state"],
        env={"SPOOLWATCH_DATA_QUEUE_URL": "", "SPOOLWATCH_AGENT_QUEUE_URL": ""},
    )
    assert result.exit_code == 2
    assert "missing: --fleet-data-queue, --fleet-agent-queue" in " ".join(result.output.split())
