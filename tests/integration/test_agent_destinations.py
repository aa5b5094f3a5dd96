"""The agent merges a batch by destination and posts destinations side by side."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson

from spoolwatch.agent import Agent, AgentConfig, ChannelConfig, TargetConfig
from spoolwatch.agent.config import RetryConfig
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.sinks.http import HttpSink
from spoolwatch.sinks.testing import RecordingServer
from spoolwatch.spools.filesystem import FilesystemSpool

FAST_RETRY = RetryConfig(initial_seconds=0.02, max_seconds=0.2, jitter=0.2)
DEPLOYMENTS = [f"{n:024x}" for n in range(1, 5)]


def _stats(deployment: str) -> Record:
    payload = {"timestamp": "2026-12-01T10:00:00Z", "numPredictions": 25, "executionTime": 9.5}
    return Record.new(DataType.DEPLOYMENT_STATS, deployment, payload)


def _predictions(deployment: str, request: int) -> Record:
    payload: dict[str, Any] = {
        "timestamp": "2026-12-01T10:00:00Z",
        "features": {"x": [float(i) for i in range(5)], "c": ["a", "b", "a", "b", "a"]},
        "predictions": [[0.4, 0.6]] * 5,
        "classNames": ["no", "yes"],
        "associationIds": [f"{deployment}-{request}-{i}" for i in range(5)],
    }
    return Record.new(DataType.PREDICTIONS_DATA, deployment, payload)


def _actuals(deployment: str, request: int) -> Record:
    ids = [f"{deployment}-{request}-{i}" for i in (0, 1)]
    actuals = [{"associationId": i, "actualValue": "yes"} for i in ids]
    return Record.new(DataType.ACTUALS_DATA, deployment, {"actualsList": actuals})


def _stream(requests: int) -> list[Record]:
    """Several deployments taking turns, each request reporting stats and predictions, every
    third one the actuals of an earlier request."""
    records = []
    for n in range(requests):
        deployment = DEPLOYMENTS[n % len(DEPLOYMENTS)]
        records += [_stats(deployment), _predictions(deployment, n)]
        if n % 3 == 2:
            records.append(_actuals(deployment, n - 2))
    return records


def _config(url: str, spool: Path, **batching: Any) -> AgentConfig:
    return AgentConfig(
        target=TargetConfig(url=url),
        channels=[ChannelConfig(name="fs", address=str(spool))],
        batching=BatchingConfig(wait_seconds=0.05, **batching),
        retry=FAST_RETRY,
        heartbeat=False,
    )


def _spool(tmp_path: Path, records: list[Record]) -> Path:
    directory = tmp_path / "spool"
    directory.mkdir()
    with FilesystemSpool(directory) as spool:
        spool.write(records)
    return directory


def _delivered(server: RecordingServer) -> Counter[str]:
    return Counter(rid for r in server.accepted() for rid in r.record_ids)


def test_a_mixed_stream_goes_out_as_one_request_per_destination(tmp_path: Path) -> None:
    records = _stream(60)  # 140 records, 12 destinations
    spool = _spool(tmp_path, records)
    with RecordingServer() as server, Agent(_config(server.url, spool, max_records=500)) as agent:
        result = agent.run(until_empty=True)
    assert result.exit_code == 0 and result.records_sent == len(records)
    assert _delivered(server) == Counter(str(r.id) for r in records)
    paths = [r.path for r in server.accepted()]
    assert len(paths) == len(set(paths)) == len(DEPLOYMENTS) * 3
    for request in server.accepted():
        items = request.json()["data"]
        counts = [int(c) for c in request.headers["x-spoolwatch-record-items"].split(",")]
        assert len(counts) == len(request.record_ids) and sum(counts) == len(items)


def test_requests_of_a_batch_are_in_flight_together_up_to_the_limit(tmp_path: Path) -> None:
    records = _stream(8)
    for limit in (1, 3):
        with RecordingServer(delay=0.2) as server:
            sink = HttpSink(TargetConfig(url=server.url), BatchingConfig(max_in_flight=limit))
            result = sink.send(records)
            sink.close()
        assert sorted(result.accepted) == list(range(len(records)))
        assert result.requests == len({(r.data_type, r.deployment_id) for r in records})
        assert server.peak_in_flight == limit if limit == 1 else 2 <= server.peak_in_flight <= 3


def test_a_failing_destination_holds_back_only_what_it_and_unstarted_requests_carry() -> None:
    records = [_stats(d) for d in DEPLOYMENTS]
    failing = f"deployments/{DEPLOYMENTS[1]}/"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503 if failing in request.url.path else 202)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    sink = HttpSink(TargetConfig(url="http://dest"), BatchingConfig(max_in_flight=1), client=client)
    result = sink.send(records)
    # One at a time: the first is accepted, the second fails, the others are not started.
    assert result.accepted == [0] and not result.rejected
    assert result.failure is not None and result.failure_kind == "http_5xx"
    sink = HttpSink(TargetConfig(url="http://dest"), BatchingConfig(max_in_flight=4), client=client)
    result = sink.send(records)
    assert 1 not in result.accepted and 0 in result.accepted and result.failure is not None


def test_a_503_among_requests_in_flight_delivers_every_record_once(tmp_path: Path) -> None:
    records = _stream(90)
    spool = _spool(tmp_path, records)
    with RecordingServer() as server:
        server.fail_next(503, times=3)
        with Agent(_config(server.url, spool, max_records=100, max_in_flight=4)) as agent:
            result = agent.run(until_empty=True)
    assert result.exit_code == 0 and result.retries >= 1
    assert _delivered(server) == Counter(str(r.id) for r in records)
    stats = [r for r in server.accepted() if "predictionRequests" in r.path]
    assert sum(len(orjson.loads(r.body)["data"]) for r in stats) == 90
