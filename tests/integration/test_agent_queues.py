"""The agent against real RabbitMQ on 127.0.0.1 and SQS in moto's server mode."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spoolwatch.agent import Agent, AgentConfig, AgentResult, ChannelConfig, TargetConfig
from spoolwatch.agent.config import RetryConfig
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.sinks.testing import RecordingServer
from spoolwatch.spools.registry import open_spool
from tests.conftest import IN_CI

FAST_RETRY = RetryConfig(initial_seconds=0.05, max_seconds=0.5, shutdown_grace_seconds=2)


def _records(count: int, deployment: str = "650a1b2c3d4e5f6a7b8c9d0e") -> list[Record]:
    return [
        Record.new(
            DataType.DEPLOYMENT_STATS,
            deployment,
            {
                "timestamp": "2026-11-24 20:01:42.113+0100",
                "modelId": "m",
                "numPredictions": i,
                "executionTime": 1.5,
            },
        )
        for i in range(count)
    ]


def _config(url: str, address: str, **options: Any) -> AgentConfig:
    return AgentConfig(
        target=TargetConfig(url=url),
        channels=[ChannelConfig(name="queue", address=address, options=options)],
        batching=BatchingConfig(max_records=50, wait_seconds=0.2, max_records_per_request=10),
        retry=FAST_RETRY,
        heartbeat=False,
        stats_interval_seconds=1,
    )


def _drain(config: AgentConfig) -> AgentResult:
    """Run an agent until its channels are empty, then close it."""
    with Agent(config) as agent:
        return agent.run(until_empty=True)


def _ids(server: RecordingServer) -> list[str]:
    return [rid for r in server.accepted() for rid in r.record_ids]


def _wait_for(condition: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


# -- RabbitMQ -----------------------------------------------------------------------------


@pytest.fixture
def rabbit_queue(rabbitmq_url: str) -> Iterator[str]:
    pytest.importorskip("pika")
    name = f"sw-agent-{uuid.uuid4().hex[:10]}"
    address = f"{rabbitmq_url}?queue={name}"
    yield address
    from spoolwatch.spools.rabbitmq import RabbitMQSpool

    spool = open_spool(address)
    assert isinstance(spool, RabbitMQSpool)
    spool.delete_queues()
    spool.close()


def _close_connections_named(name: str) -> int:
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        if IN_CI:
            pytest.fail("rabbitmqctl is needed to close connections from the broker side")
        pytest.skip("rabbitmqctl not found")
    listing = subprocess.run(
        [rabbitmqctl, "list_connections", "-q", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pids = [
        line.split("\t", 1)[0]
        for line in listing.stdout.splitlines()
        if f'{{"connection_name","{name}"}}' in line
    ]
    for pid in pids:
        subprocess.run(
            [rabbitmqctl, "close_connection", pid, "closed by the test"],
            capture_output=True,
            timeout=60,
            check=True,
        )
    return len(pids)


@pytest.mark.rabbitmq
def test_rabbitmq_connection_closed_by_the_broker_agent_reconnects_and_continues(
    rabbit_queue: str,
) -> None:
    records = _records(400)
    writer = open_spool(rabbit_queue)
    writer.write(records)
    writer.close()
    connection = f"agent-{uuid.uuid4().hex[:8]}"
    with RecordingServer(delay=0.005) as server:
        agent = Agent(
            _config(server.url, rabbit_queue, connection_name=connection, retry_delay=0.2)
        )
        runner = threading.Thread(target=agent.run)
        runner.start()
        assert _wait_for(lambda: server.count >= 5, 20)
        assert _close_connections_named(connection) >= 1
        assert _wait_for(lambda: set(_ids(server)) >= {r.id for r in records}, 60)
        agent.stop()
        runner.join(30)
        agent.close()
    assert not runner.is_alive()
    received = _ids(server)
    assert set(received) == {r.id for r in records}
    # Redelivered records that had been sent before the loss were dropped by id, or sent
    # again with the same idempotency key; none is missing.
    spool = open_spool(rabbit_queue)
    assert spool.backlog().total == 0
    spool.close()


@pytest.mark.rabbitmq
def test_rabbitmq_undecodable_message_goes_to_the_dead_letter_queue(
    rabbit_queue: str,
    fixtures_dir: Path,
) -> None:
    from spoolwatch.spools.rabbitmq import RabbitMQSpool

    writer = open_spool(rabbit_queue)
    assert isinstance(writer, RabbitMQSpool)
    body = (fixtures_dir / "transports" / "rabbitmq_first_message_body.json").read_bytes()
    writer.write_raw(
        [body, b"\xff\xfe not json", body.replace(b'"DEPLOYMENT_STATS"', b'"NEW_KIND"')]
    )
    writer.close()
    with RecordingServer() as server:
        result = _drain(_config(server.url, rabbit_queue))
    assert len(server.accepted()) == 1 and result.quarantined == 1 and result.skipped == 1
    spool = open_spool(rabbit_queue)
    (parked,) = list(spool.quarantined())
    assert parked.raw == b"\xff\xfe not json" and "undecodable" in parked.reason
    assert spool.backlog().total == 0
    spool.close()


# -- SQS (moto) ---------------------------------------------------------------------------


def _sqs_queue(fifo: bool = False) -> str:
    import boto3

    name = f"sw-agent-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    return str(boto3.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


@pytest.mark.aws
def test_sqs_undecodable_message_and_unknown_type_do_not_block_the_queue(
    moto_server: str,
) -> None:
    import boto3

    queue_url = _sqs_queue()
    client = boto3.client("sqs")
    good = _records(3)
    spool = open_spool(queue_url)
    spool.write(good[:1])
    client.send_message(QueueUrl=queue_url, MessageBody="{not a record")
    unknown = Record(deployment_id="d1", data_type="FUTURE_TYPE", payload={}, id="u-1")
    spool.write([unknown, *good[1:]])
    spool.close()
    with RecordingServer() as server:
        result = _drain(_config(server.url, queue_url))
    assert sorted(_ids(server)) == sorted(str(r.id) for r in good)
    assert result.quarantined == 1 and result.skipped == 1
    check = open_spool(queue_url)
    (parked,) = list(check.quarantined())
    assert parked.raw == b"{not a record" and "undecodable" in parked.reason
    assert check.backlog().total == 0
    check.close()


@pytest.mark.aws
def test_sqs_fifo_queue_keeps_the_producer_order(moto_server: str) -> None:
    queue_url = _sqs_queue(fifo=True)
    records = _records(25)
    spool = open_spool(queue_url)
    spool.write(records)
    spool.close()
    with RecordingServer() as server:
        server.fail_next(503, times=2)
        result = _drain(_config(server.url, queue_url))
    assert _ids(server) == [r.id for r in records]
    assert result.retries == 2 and result.exit_code == 0
