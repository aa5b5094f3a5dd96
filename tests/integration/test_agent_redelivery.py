"""Records a crashed agent sent but never acked: the next agent asks the destination which
it already has and acks those without sending them again (SQS in moto's server mode, the
recording HTTP destination on 127.0.0.1)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from spoolwatch.agent import Agent, AgentConfig, AgentResult, ChannelConfig, TargetConfig
from spoolwatch.agent.config import RetryConfig
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.sinks.http import HttpSink
from spoolwatch.sinks.testing import RecordingServer
from spoolwatch.spools.base import Delivery, Spool
from spoolwatch.spools.registry import open_spool

FAST_RETRY = RetryConfig(initial_seconds=0.05, max_seconds=0.5, shutdown_grace_seconds=2)


def _records(count: int) -> list[Record]:
    return [
        Record.new(
            DataType.DEPLOYMENT_STATS,
            "650a1b2c3d4e5f6a7b8c9d0e",
            {
                "timestamp": "2026-11-24 20:01:42.113+0100",
                "modelId": "m",
                "numPredictions": i,
                "executionTime": 1.5,
            },
        )
        for i in range(count)
    ]


def _config(url: str, address: str) -> AgentConfig:
    return AgentConfig(
        target=TargetConfig(url=url),
        channels=[ChannelConfig(name="queue", address=address)],
        batching=BatchingConfig(max_records=50, wait_seconds=0.2, max_records_per_request=10),
        retry=FAST_RETRY,
        heartbeat=False,
        stats_interval_seconds=1,
    )


def _crashes_before_acking(address: str, **options: Any) -> Spool:
    """A spool whose acks never happen, as when the agent dies right after a send; closing
    it makes what it read visible again, as a visibility timeout would later."""
    spool = open_spool(address, **options)

    def lost_ack(deliveries: Any) -> None:
        return None

    spool.ack = lost_ack  # type: ignore[method-assign]
    return spool


def _run(config: AgentConfig, **options: Any) -> AgentResult:
    with Agent(config, **options) as agent:
        return agent.run(until_empty=True)


@pytest.mark.aws
def test_sqs_batch_redelivered_after_a_crash_is_acked_without_a_second_send(
    moto_server: str,
) -> None:
    import boto3

    name = f"sw-redeliver-{uuid.uuid4().hex[:10]}"
    queue_url = str(boto3.client("sqs").create_queue(QueueName=name)["QueueUrl"])
    records = _records(8)
    ids = sorted(str(r.id) for r in records)
    spool = open_spool(queue_url)
    spool.write(records)
    spool.close()
    with RecordingServer() as server:
        first = _run(_config(server.url, queue_url), open_spool=_crashes_before_acking)
        assert first.records_sent == 8 and server.queries == []
        sent = len(server.requests)
        assert sorted(rid for r in server.accepted() for rid in r.record_ids) == ids

        redelivered: list[bool] = []

        def watching(address: str, **options: Any) -> Spool:
            inner = open_spool(address, **options)
            read = inner.read

            def read_and_note(max_records: int, wait: float = 0.0) -> list[Delivery]:
                deliveries = read(max_records, wait)
                redelivered.extend(d.redelivered for d in deliveries)
                return deliveries

            inner.read = read_and_note  # type: ignore[method-assign]
            return inner

        second = _run(_config(server.url, queue_url), open_spool=watching)
        assert redelivered == [True] * 8  # ApproximateReceiveCount 2
        assert len(server.queries) == 1 and sorted(server.queries[0]) == ids
        assert len(server.requests) == sent  # no second ingestion request
    assert second.records_sent == 0 and second.duplicates == 8 and second.exit_code == 0
    check = open_spool(queue_url)
    assert check.backlog().total == 0
    check.close()


def test_recording_server_knows_the_ids_of_the_requests_it_accepted() -> None:
    records = _records(3)
    with RecordingServer() as server:
        server.answer("/predictionRequests/", 503)
        sink = HttpSink(TargetConfig(url=server.url))
        try:
            assert sink.send(records[:1]).failure is not None
            server.clear()
            assert sink.send(records[1:]).accepted == [0, 1]
            asked = [str(r.id) for r in records]
            assert sink.known_record_ids(asked) == {str(records[1].id), str(records[2].id)}
            server.answer("records/known", 404)
            assert sink.known_record_ids(asked) == set()
        finally:
            sink.close()
    assert server.queries == [asked, asked]
    assert all("records/known" not in r.path for r in server.requests)
