"""The Lambda agents end to end against moto's SQS and DynamoDB and a real HTTP destination.

A harness plays the Lambda service (tests/integration/lambda_harness.py); the handler, the
agent, the leases and the breaker are the real code. Deadlines are scaled down to seconds.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from spoolwatch.report import Reporter
from spoolwatch.scaling import (
    BreakerState,
    CircuitBreaker,
    FailureKind,
    LeaseTable,
    ManualClock,
    SystemClock,
)
from spoolwatch.scaling.wake import MemoryWakeSwitch
from spoolwatch.serverless.dynamodb import DynamoBreakerStore, DynamoLeaseStore, create_table
from spoolwatch.serverless.setup import from_env
from spoolwatch.serverless.wake.dynamodb import DynamoWakeSwitch, WakeFlag, read_wake_flag
from spoolwatch.serverless.worker import ServerlessAgent
from spoolwatch.sinks.testing import RecordingServer
from spoolwatch.spools import open_spool
from tests.integration.lambda_harness import FakeLambda, WakeTrigger

pytestmark = pytest.mark.aws

DEPLOYMENT = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"


@dataclass
class Stack:
    """What the SAM template would create, made in moto, plus the destination."""

    sqs: Any
    data_queue_url: str
    agent_queue_url: str
    table: str
    server: RecordingServer
    env: dict[str, str]
    dynamodb: Any
    workers: list[ServerlessAgent]

    def worker(self, **overrides: str) -> ServerlessAgent:
        """A handler's worker as Lambda would build it from this environment."""
        worker = from_env({**self.env, **overrides})
        self.workers.append(worker)
        return worker

    def leases(self, target: int) -> LeaseTable:
        store = DynamoLeaseStore(self.dynamodb, self.table)
        return LeaseTable(store, slots=target, lease_seconds=3.0, clock=SystemClock())

    def breaker_state(self) -> BreakerState:
        return self.workers[0].breaker.state() if self.workers else self.worker().breaker.state()

    def fill(self, rows: int) -> set[str]:
        """Report ``rows`` prediction rows (25 per record on SQS); return the record ids."""
        spool = open_spool(self.data_queue_url)
        reporter = Reporter(spool, deployment_id=DEPLOYMENT, model_id=MODEL)
        reporter.report_predictions_data(
            {"x": [float(i) for i in range(rows)]},
            [float(i) / 2 for i in range(rows)],
            association_ids=[f"a-{i}" for i in range(rows)],
        )
        reporter.close()
        ids = {d.record_id for d in spool.peek() if d.record_id}
        spool.close()
        return ids

    def backlog(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.data_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def delivered_ids(self) -> Counter[str]:
        ids: Counter[str] = Counter()
        for request in self.server.requests:
            if request.status == 202:
                ids.update(request.record_ids)
        return ids


@pytest.fixture
def stack(moto_server: str) -> Iterator[Stack]:
    sqs = boto3.client("sqs")
    suffix = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"data-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    data = sqs.create_queue(
        QueueName=f"data-{suffix}",
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}),
        },
    )["QueueUrl"]
    agent = sqs.create_queue(QueueName=f"agent-{suffix}")["QueueUrl"]
    table = f"state-{suffix}"
    dynamodb = boto3.client("dynamodb")
    create_table(dynamodb, table)
    with RecordingServer() as server:
        env = {
            "SPOOLWATCH_DATA_QUEUE_URL": data,
            "SPOOLWATCH_AGENT_QUEUE_URL": agent,
            "SPOOLWATCH_STATE_TABLE": table,
            "SPOOLWATCH_TARGET_CONCURRENCY": "3",
            "SPOOLWATCH_RECORDS_PER_AGENT": "20",
            "SPOOLWATCH_DESTINATION_URL": server.url,
            "SPOOLWATCH_API_TOKEN": "test-token",
            "SPOOLWATCH_DEADLINE_MARGIN_SECONDS": "1",
            "SPOOLWATCH_IDLE_SECONDS": "0.5",
            "SPOOLWATCH_SCALING_LEASE_SECONDS": "3",
            "SPOOLWATCH_SCALING_FAILURE_THRESHOLD": "2",
            "SPOOLWATCH_SCALING_FAILURE_WINDOW_SECONDS": "60",
            "SPOOLWATCH_SCALING_BASE_COOLDOWN_SECONDS": "2",
            "SPOOLWATCH_SCALING_PROBE_TIMEOUT_SECONDS": "30",
        }
        stack = Stack(sqs, data, agent, table, server, env, dynamodb, [])
        yield stack
        for worker in stack.workers:
            worker.close()
    sqs.close()
    dynamodb.close()


def _lambda(stack: Stack, worker: ServerlessAgent, deadline: float = 8.0) -> FakeLambda:
    return FakeLambda(
        worker.handle,
        stack.sqs,
        stack.agent_queue_url,
        max_concurrency=3,
        deadline_seconds=deadline,
    )


def test_backlog_is_delivered_exactly_once_in_effect_within_the_concurrency_cap(
    stack: Stack,
) -> None:
    written = stack.fill(rows=2500)  # 100 records
    assert len(written) == 100
    service = _lambda(stack, stack.worker())
    response = service.tick_schedule()
    assert response["recruited"] == 3  # ceil(100 / 20) = 5, capped at the target of 3

    assert service.run_until(lambda: stack.backlog() == 0, timeout=90, schedule_every=5)
    service.join()
    assert service.errors() == []
    delivered = stack.delivered_ids()
    assert set(delivered) == written
    assert service.peak <= 3
    assert stack.leases(3).count_running() == 0  # every lease released
    for request in stack.server.requests:
        assert request.headers["authorization"] == "Bearer test-token"


def test_empty_queue_costs_one_short_invocation_and_no_recruits(stack: Stack) -> None:
    service = _lambda(stack, stack.worker())
    started = time.monotonic()
    response = service.tick_schedule()
    assert response == {"recruited": 0, "reason": "empty_backlog", "backlog": 0}
    assert time.monotonic() - started < 5
    assert service.poll() == 0  # nothing was posted to the agent queue
    assert stack.server.requests == []


def test_killed_invocations_lease_is_reclaimed_after_it_expires(stack: Stack) -> None:
    written = stack.fill(rows=250)  # 10 records
    single = {"SPOOLWATCH_TARGET_CONCURRENCY": "2"}
    leases = stack.leases(2)
    # Two invocations were killed while holding both slots: their rows stay behind.
    assert leases.acquire("killed-1") is not None
    assert leases.acquire("killed-2") is not None
    service = _lambda(stack, stack.worker(**single))
    service.tick_schedule()
    service.run_until(lambda: True, timeout=5)
    service.join()
    assert stack.delivered_ids() == Counter()  # no slot was free: nobody ran

    time.sleep(3.2)  # the killed leases expire (lease_seconds = 3)
    service.tick_schedule()
    assert service.run_until(lambda: stack.backlog() == 0, timeout=60, schedule_every=2)
    service.join()
    assert set(stack.delivered_ids()) == written
    assert leases.count_running() == 0


def test_agent_hands_off_when_the_deadline_comes_with_work_left(
    stack: Stack, tmp_path: Path
) -> None:
    written = stack.fill(rows=2500)  # 100 records
    # The agent config comes from a file, as it may from S3: small batches and requests.
    config = tmp_path / "agent.yaml"
    config.write_text(
        "target: {url: 'http://127.0.0.1:1'}\n"
        "channels: [{name: data, spool: 'sqs://ignored'}]\n"
        "batching: {max_records: 10, max_records_per_request: 10}\n"
    )
    # One agent at a time (its full reads cannot double a fleet capped at one), 2.5 s per
    # invocation (1 s margin): too short for 100 records at 0.2 s per request of 10, so
    # each agent must hand off to a replacement.
    env = {
        "SPOOLWATCH_TARGET_CONCURRENCY": "1",
        "SPOOLWATCH_RECORDS_PER_AGENT": "100000",
        "SPOOLWATCH_AGENT_CONFIG": str(config),
    }
    stack.server.delay = 0.2
    service = _lambda(stack, stack.worker(**env), deadline=2.5)
    service.tick_schedule()
    assert service.run_until(lambda: stack.backlog() == 0, timeout=90)
    service.join()
    assert service.errors() == []
    handoffs = [json.loads(b) for b in service.bodies() if json.loads(b)["reason"] == "handoff"]
    assert handoffs, "no hand-off happened"
    assert max(h["hop"] for h in handoffs) >= 1
    assert set(stack.delivered_ids()) == written


def test_breaker_opens_while_destination_fails_then_closes_after_recovery(stack: Stack) -> None:
    written = stack.fill(rows=500)  # 20 records
    stack.server.answer("/api/v2/", 503)
    service = _lambda(stack, stack.worker(), deadline=3.0)
    service.tick_schedule()
    assert service.run_until(
        lambda: stack.breaker_state() is not BreakerState.CLOSED, timeout=60, schedule_every=1
    ), "the breaker never opened"
    service.join()
    assert stack.delivered_ids() == Counter()  # nothing accepted, nothing acked
    assert stack.backlog() == len(written)  # and nothing lost

    stack.server.clear()  # the destination recovers
    assert service.run_until(lambda: stack.backlog() == 0, timeout=90, schedule_every=1)
    service.join()
    assert set(stack.delivered_ids()) == written
    assert stack.breaker_state() is BreakerState.CLOSED
    breaker = CircuitBreaker(
        DynamoBreakerStore(stack.dynamodb, stack.table),
        stack.workers[0].settings.scaling,
        SystemClock(),
    )
    assert breaker.status().failures_in_window == 0


def test_fleet_status_shows_backlog_leases_and_breaker(stack: Stack) -> None:
    from typer.testing import CliRunner

    from spoolwatch.cli import app

    stack.fill(rows=50)  # 2 records
    stack.leases(3).acquire("agent-a")
    worker = stack.worker()
    worker.breaker.record_failure(reason="HTTP 503 from the destination")
    env = {k: v for k, v in stack.env.items() if not k.startswith("SPOOLWATCH_SCALING")}
    result = CliRunner().invoke(app, ["fleet", "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["visible"] + status["in_flight"] == 2
    assert [lease["holder"] for lease in status["leases"]] == ["agent-a"]
    assert status["breaker"]["state"] == "closed"
    assert status["failures"][0]["reason"] == "HTTP 503 from the destination"

    human = CliRunner().invoke(app, ["fleet", "status"], env=env)
    assert human.exit_code == 0, human.output
    assert "agent-a" in human.stdout and "leases: 1 of 3" in human.stdout


class _MappingClient:
    """Lambda's event source mapping calls, answered at once (the flag is what is read)."""

    def __init__(self) -> None:
        self.updates: list[bool] = []

    def update_event_source_mapping(self, **kwargs: Any) -> dict[str, Any]:
        self.updates.append(kwargs["Enabled"])
        return {"UUID": kwargs["UUID"], "State": "Updating"}


class _ReadOnlyDynamoDB:
    """The DynamoDB client, with the name and arguments of every call written down."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call


def test_fleet_status_shows_the_wake_trigger_armed_until_an_agent_disarms_it(
    stack: Stack,
) -> None:
    from typer.testing import CliRunner

    from spoolwatch.cli import app

    env = {k: v for k, v in stack.env.items() if not k.startswith("SPOOLWATCH_SCALING")}
    never_switched = CliRunner().invoke(app, ["fleet", "status", "--json"], env=env)
    assert never_switched.exit_code == 0, never_switched.output
    assert json.loads(never_switched.stdout)["wake"] == {
        "armed": True,
        "changedAt": None,
        "why": None,
    }
    human = CliRunner().invoke(app, ["fleet", "status"], env=env)
    assert human.exit_code == 0, human.output
    assert "wake trigger: armed (never switched since deployment)" in human.stdout

    three_minutes_ago = time.time() - 180
    lambda_client = _MappingClient()
    switch = DynamoWakeSwitch(
        stack.dynamodb,
        stack.table,
        lambda_client,
        "mapping-uuid",
        clock=ManualClock(three_minutes_ago),
    )
    assert switch.disarm("agents_running")
    assert lambda_client.updates == [False]

    disarmed = CliRunner().invoke(app, ["fleet", "status", "--json"], env=env)
    assert disarmed.exit_code == 0, disarmed.output
    wake = json.loads(disarmed.stdout)["wake"]
    assert (wake["armed"], wake["why"]) == (False, "agents_running")
    assert wake["changedAt"] == pytest.approx(three_minutes_ago, abs=1e-3)
    human = CliRunner().invoke(app, ["fleet", "status"], env=env)
    assert human.exit_code == 0, human.output
    assert "wake trigger: disarmed (agents_running, 3 min ago)" in human.stdout

    assert switch.arm("fleet_idle")
    rearmed = CliRunner().invoke(app, ["fleet", "status", "--json"], env=env)
    assert json.loads(rearmed.stdout)["wake"]["armed"] is True
    assert json.loads(rearmed.stdout)["wake"]["why"] == "fleet_idle"


def test_reading_the_wake_flag_is_one_consistent_query_and_writes_nothing(stack: Stack) -> None:
    client = _ReadOnlyDynamoDB(stack.dynamodb)
    assert read_wake_flag(client, stack.table) == WakeFlag(armed=True)
    switch = DynamoWakeSwitch(
        stack.dynamodb, stack.table, _MappingClient(), "mapping-uuid", clock=ManualClock(1e9)
    )
    assert switch.disarm("breaker_open")
    flag = read_wake_flag(client, stack.table)
    assert flag == WakeFlag(armed=False, changed_at=1e9, why="breaker_open")
    assert [name for name, _ in client.calls] == ["query", "query"]
    assert all(kwargs["ConsistentRead"] for _, kwargs in client.calls)
    assert switch.armed() is False


def test_fleet_status_without_a_queue_says_which_option_is_missing() -> None:
    from typer.testing import CliRunner

    from spoolwatch.cli import app

    result = CliRunner().invoke(app, ["fleet", "status"], env={"SPOOLWATCH_DATA_QUEUE_URL": ""})
    assert result.exit_code == 2
    assert "--data-queue is required" in result.output


def test_config_from_s3_and_token_from_secrets_manager_or_ssm(stack: Stack) -> None:
    s3 = boto3.client("s3")
    bucket = f"config-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket,
        Key="agent.yaml",
        Body=b"target: {url: 'https://ignored.example'}\n"
        b"channels: [{name: x, spool: 'sqs://ignored'}]\n"
        b"batching: {max_records: 30}\n",
    )
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(
        Name=f"token-{uuid.uuid4().hex[:8]}", SecretString='{"apiToken": "from-secrets"}'
    )["ARN"]
    ssm = boto3.client("ssm")
    parameter = f"/spoolwatch/token-{uuid.uuid4().hex[:8]}"
    ssm.put_parameter(Name=parameter, Value="from-ssm", Type="SecureString")
    base = {k: v for k, v in stack.env.items() if k != "SPOOLWATCH_API_TOKEN"}

    worker = stack.worker(
        **{
            **base,
            "SPOOLWATCH_AGENT_CONFIG": f"s3://{bucket}/agent.yaml",
            "SPOOLWATCH_API_TOKEN_SECRET": arn,
        }
    )
    target = worker.agent_config.target
    assert worker.agent_config.batching.max_records == 30
    assert target.url == stack.server.url  # the destination variable wins over the file
    assert target.api_token is not None and target.api_token.reveal() == "from-secrets"
    assert worker.agent_config.channels[0].address == stack.data_queue_url

    by_ssm = stack.worker(**{**base, "SPOOLWATCH_API_TOKEN_SECRET": f"ssm:{parameter}"})
    token = by_ssm.agent_config.target.api_token
    assert token is not None and token.reveal() == "from-ssm"
    assert "from-ssm" not in repr(by_ssm.settings)

    from spoolwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        stack.worker(**{**base, "SPOOLWATCH_AGENT_CONFIG": f"s3://{bucket}/missing.yaml"})
    for client in (s3, secrets, ssm):
        client.close()


def _wake_lambda(stack: Stack, worker: ServerlessAgent) -> tuple[FakeLambda, MemoryWakeSwitch]:
    switch = MemoryWakeSwitch()
    worker.wake = switch
    arn = stack.sqs.get_queue_attributes(
        QueueUrl=stack.data_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    service = FakeLambda(
        worker.handle,
        stack.sqs,
        stack.agent_queue_url,
        max_concurrency=3,
        deadline_seconds=8.0,
        wake=WakeTrigger(stack.data_queue_url, arn, switch),
    )
    return service, switch


def test_records_arriving_at_an_idle_fleet_wake_agents_without_the_schedule(stack: Stack) -> None:
    written = stack.fill(rows=2500)  # 100 records
    service, switch = _wake_lambda(stack, stack.worker())
    assert service.run_until(lambda: stack.backlog() == 0, timeout=90)  # no schedule tick
    service.join()
    assert service.errors() == []
    assert service.count("schedule") == 0
    assert service.count("wake") >= 1 and service.count("sqs") >= 1
    delivered = stack.delivered_ids()
    assert set(delivered) == written
    # the agents disarmed the trigger when they started; the last one armed it again
    assert ("disarm", "agents_running") in switch.calls
    assert switch.calls[-1] == ("arm", "fleet_idle") and switch.enabled
    first_wake = next(i for i in service.invocations if i.trigger == "wake")
    assert first_wake.response["batchItemFailures"] == []
    assert stack.leases(3).count_running() == 0


def test_wake_function_delivers_nothing_while_the_breaker_is_open(stack: Stack) -> None:
    written = stack.fill(rows=250)  # 10 records
    worker = stack.worker()
    for _ in range(2):  # the threshold is 2
        worker.breaker.record_failure(reason="HTTP 503", kind=FailureKind.SERVER_ERROR)
    assert worker.breaker.state() is BreakerState.OPEN
    service, _ = _wake_lambda(stack, worker)
    assert service.poll_wake() == 1
    service.join()
    (wake,) = [i for i in service.invocations if i.trigger == "wake"]
    assert len(wake.response["batchItemFailures"]) == 10
    assert stack.server.requests == []
    assert stack.backlog() == len(written)  # still in flight, not lost
    assert not stack.sqs.receive_message(QueueUrl=stack.agent_queue_url).get("Messages")


def test_wake_function_gives_back_what_the_destination_refused(stack: Stack) -> None:
    written = stack.fill(rows=250)  # 10 records
    stack.server.fail_next(503, times=1000)
    worker = stack.worker()
    service, _ = _wake_lambda(stack, worker)
    service.wake.switch.disarm("test")  # type: ignore[union-attr]
    context = service._context()
    messages = stack.sqs.receive_message(
        QueueUrl=stack.data_queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    arn = service.wake.queue_arn  # type: ignore[union-attr]
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "eventSourceARN": arn,
        }
        for m in messages
    ]
    context.get_remaining_time_in_millis = lambda: 3000  # type: ignore[method-assign]
    response = worker.handle({"Records": records}, context)
    assert len(response["batchItemFailures"]) == len(messages) == len(written)
    assert stack.backlog() == len(written)
    # the wake function recruited an agent anyway: it checks the destination and disarms
    assert stack.sqs.receive_message(QueueUrl=stack.agent_queue_url).get("Messages")
