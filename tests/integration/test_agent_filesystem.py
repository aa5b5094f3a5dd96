"""The agent against real filesystem spools and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from spoolwatch.agent import Agent, AgentConfig, AgentResult, ChannelConfig, TargetConfig
from spoolwatch.agent.config import RetryConfig
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.sinks.rest_requests import convert_record, merge_pieces
from spoolwatch.sinks.testing import RecordedRequest, RecordingServer
from spoolwatch.spools.filesystem import FilesystemSpool

FAST_RETRY = RetryConfig(
    initial_seconds=0.02, max_seconds=0.2, jitter=0.2, shutdown_grace_seconds=2
)


def _config(url: str, *directories: Path, **kwargs: Any) -> AgentConfig:
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("batching", BatchingConfig(max_records=100, wait_seconds=0.05))
    return AgentConfig(
        target=TargetConfig(url=url),
        channels=[ChannelConfig(name=f"fs{i}", address=str(d)) for i, d in enumerate(directories)],
        heartbeat=False,
        stats_interval_seconds=1,
        **kwargs,
    )


def _drain(config: AgentConfig) -> AgentResult:
    """Run an agent until its channels are empty, then close it."""
    with Agent(config) as agent:
        return agent.run(until_empty=True)


def _copy_spool(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    for path in [target, *target.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def _no_timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (None if k == "timestamp" else _no_timestamps(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_timestamps(v) for v in value]
    return value


def _flatten(path: str, body: Any) -> list[tuple[str, Any]]:
    """One entry per record-level item, so merged and unmerged requests compare equal."""
    path = "/api/v2/" + path.split("/api/v2/", 1)[1]
    if "buckets" in body:
        return [(path, {"modelId": body["modelId"], "bucket": b}) for b in body["buckets"]]
    if isinstance(body.get("data"), list):
        flags = {k: v for k, v in body.items() if k != "data"}
        return [(path, {"item": item, **flags}) for item in body["data"]]
    return [(path, body)]


def _received(server: RecordingServer) -> list[tuple[str, Any]]:
    return [entry for r in server.accepted() for entry in _flatten(r.path, r.json())]


def _by_destination(entries: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Entries grouped by destination (path and top-level flags), each one's in their order:
    the agent merges a batch by destination and posts destinations side by side. Events are
    posted one per request, side by side too, so they are compared in a fixed order of
    their own."""

    def destination(entry: tuple[str, Any]) -> tuple[str, str, str]:
        path, body = entry
        flags = sorted(k for k in body if k not in {"item", "bucket"}) if "item" in body else []
        event = json.dumps(body, sort_keys=True, default=str) if "remoteEvents" in path else ""
        return path, ",".join(flags), event

    return sorted(entries, key=destination)


@pytest.mark.parametrize("fixture", ["fs_json", "fs_binary"])
def test_datarobot_fixture_spool_produces_the_requests_datarobot_sent(
    fixtures_dir: Path,
    tmp_path: Path,
    fixture: str,
) -> None:
    spool_dir = _copy_spool(fixtures_dir / fixture, tmp_path / fixture)
    captured = json.loads((fixtures_dir / "api" / "http_requests.json").read_text())
    expected = [
        entry
        for r in captured[:20]
        if r["simulated_status"] == 202
        for entry in _flatten(r["url"], r["body_parsed"])
    ]
    with RecordingServer() as server:
        result = _drain(_config(server.url, spool_dir))
    received = _by_destination(_no_timestamps(_received(server)))
    assert received == _by_destination(_no_timestamps(expected))
    assert result.quarantined == 0 and result.exit_code == 0
    assert result.skipped == (1 if fixture == "fs_json" else 0)  # the ping
    # One request per destination (events go one by one), not one per run of neighbours.
    destinations = {
        (path, tuple(sorted(body))) for path, body in expected if "remoteEvents" not in path
    }
    events = sum(1 for path, _ in expected if "remoteEvents" in path)
    assert len(server.accepted()) == len(destinations) + events


@pytest.mark.parametrize("fixture", ["fs_split", "fs_rotation/json", "fs_rotation/byte_array"])
def test_split_and_rotated_fixture_spools_arrive_whole(
    fixtures_dir: Path,
    tmp_path: Path,
    fixture: str,
) -> None:
    spool_dir = _copy_spool(fixtures_dir / fixture, tmp_path / "spool")
    reader = FilesystemSpool(spool_dir)
    records = [d.record for d in reader.peek() if d.record is not None]
    reader.close()
    expected = [
        entry
        for r in merge_pieces(
            ((i, convert_record(rec)) for i, rec in enumerate(records)), max_bytes=1, max_records=1
        )
        for entry in _flatten("/api/v2/" + r.path, json.loads(r.body))
    ]
    with RecordingServer() as server:
        result = _drain(_config(server.url, spool_dir))
    assert records and _by_destination(_received(server)) == _by_destination(expected)
    assert result.records_sent == len(records) and result.exit_code == 0
    if fixture == "fs_split":
        predictions = [r for r in server.accepted() if "predictionInputs" in r.path]
        assert len(predictions) == 1 and len(predictions[0].json()["data"]) == 3


def _stats_records(count: int, deployment: str = "d1") -> list[Record]:
    return [
        Record.new(
            DataType.DEPLOYMENT_STATS,
            deployment,
            {
                "timestamp": "2024-01-01 00:00:00.000+0000",
                "modelId": "m",
                "numPredictions": i + 1,
                "executionTime": 1.0,
            },
        )
        for i in range(count)
    ]


def _ids_in_order(requests: list[RecordedRequest]) -> list[str]:
    return [record_id for r in requests for record_id in r.record_ids]


def test_destination_503_for_a_while_then_every_record_arrives_once_in_order(
    tmp_path: Path,
) -> None:
    records = _stats_records(300)
    writer = FilesystemSpool(tmp_path / "spool", create=True)
    writer.write(records)
    writer.close()
    with RecordingServer() as server:
        server.fail_next(503, times=6, retry_after=0.05)
        result = _drain(_config(server.url, tmp_path / "spool"))
    assert _ids_in_order(server.accepted()) == [r.id for r in records]
    refused = [r for r in server.requests if r.status == 503]
    assert len(refused) == 6 and result.retries == 6
    again = FilesystemSpool(tmp_path / "spool")
    assert again.backlog().total == 0
    again.close()


def test_corrupt_line_in_the_middle_of_a_spool_is_quarantined_and_the_rest_drained(
    tmp_path: Path,
) -> None:
    before, after = _stats_records(3), _stats_records(4)
    spool = FilesystemSpool(tmp_path / "spool", create=True)
    spool.write(before)
    with open(tmp_path / "spool" / "fs_spool.1", "ab") as file:
        file.write(b'{"header": {"id": "broken", \x00\xff garbage\n')
    spool.write(after)
    spool.close()
    with RecordingServer() as server:
        result = _drain(_config(server.url, tmp_path / "spool"))
    assert _ids_in_order(server.accepted()) == [r.id for r in before + after]
    assert result.quarantined == 1
    inspect = FilesystemSpool(tmp_path / "spool")
    (parked,) = list(inspect.quarantined())
    assert b"garbage" in parked.raw and "undecodable" in parked.reason
    inspect.close()


def test_record_rejected_with_422_is_quarantined_with_status_and_body(tmp_path: Path) -> None:
    records = _stats_records(2, "good") + _stats_records(1, "bad") + _stats_records(2, "good")
    spool = FilesystemSpool(tmp_path / "spool", create=True)
    spool.write(records)
    spool.close()
    with RecordingServer() as server:
        server.answer("/deployments/bad/", 422, b'{"message":"deployment bad is unknown"}')
        result = _drain(_config(server.url, tmp_path / "spool"))
    assert _ids_in_order(server.accepted()) == [r.id for r in records if r.deployment_id == "good"]
    inspect = FilesystemSpool(tmp_path / "spool")
    (parked,) = list(inspect.quarantined())
    assert "HTTP 422" in parked.reason and "deployment bad is unknown" in parked.reason
    assert inspect.backlog().total == 0 and result.quarantined == 1
    inspect.close()


def _agent_process(config: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spoolwatch.agent",
            "--config",
            str(config),
            "--until-empty",
            "--log-level",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_agent_killed_mid_batch_then_restarted_delivers_everything_with_same_keys(
    tmp_path: Path,
) -> None:
    records = _stats_records(200)
    spool = FilesystemSpool(tmp_path / "spool", create=True)
    spool.write(records)
    spool.close()
    with RecordingServer(delay=0.03) as server:
        config = tmp_path / "agent.yaml"
        config.write_text(
            f"target: {{url: '{server.url}'}}\n"
            f"channels: [{{name: fs, spool: '{tmp_path / 'spool'}'}}]\n"
            "batching: {max_records: 100, max_records_per_request: 10, wait_seconds: 0.05}\n"
            "heartbeat: {enabled: false}\n"
        )
        first = _agent_process(config)
        deadline = time.monotonic() + 20
        while server.count < 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
        assert 4 <= server.count < 10  # killed inside the first batch of 10 requests
        second = _agent_process(config)
        _, stderr = second.communicate(timeout=60)
        assert second.returncode == 0, stderr.decode()
    keys: dict[str, set[str]] = defaultdict(set)
    for request in server.accepted():
        for record_id in request.record_ids:
            keys[record_id].add(request.headers["idempotency-key"])
    assert set(keys) == {r.id for r in records}
    repeated = [rid for rid in keys if _ids_in_order(server.accepted()).count(rid) > 1]
    assert repeated, "the records sent before the kill were not acked, so they come again"
    assert all(len(keys[rid]) == 1 for rid in repeated)


def test_sigterm_stops_gracefully_with_exit_code_130(tmp_path: Path) -> None:
    spool = FilesystemSpool(tmp_path / "spool", create=True)
    spool.write(_stats_records(10))
    spool.close()
    with RecordingServer() as server:
        config = tmp_path / "agent.yaml"
        config.write_text(
            f"target: {{url: '{server.url}'}}\nchannels: [{{spool: '{tmp_path / 'spool'}'}}]\n"
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "spoolwatch.agent", "--config", str(config), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while server.count < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr.decode()
    result = json.loads(stdout)
    assert result["stopped_by"] == "signal" and result["records_sent"] == 10


def test_frame_with_a_bad_checksum_in_a_binary_spool_is_quarantined_and_the_rest_drained(
    tmp_path: Path,
) -> None:
    records = _stats_records(6)
    spool = FilesystemSpool(tmp_path / "spool", create=True, data_format="BYTE_ARRAY")
    spool.write(records[:3])
    spool.close()
    path = tmp_path / "spool" / "fs_spool.1"
    data = bytearray(path.read_bytes())
    second = data.index(b"\xde\xad\xbe\xef", 4)
    digit = data.index(b'"numPredictions": 2', second) + len('"numPredictions": ')
    data[digit] = ord("7")  # the frame's CRC-32 no longer matches its bytes
    path.write_bytes(bytes(data))
    spool = FilesystemSpool(tmp_path / "spool", data_format="BYTE_ARRAY")
    spool.write(records[3:])
    spool.close()
    with RecordingServer() as server:
        result = _drain(_config(server.url, tmp_path / "spool"))
    sent = [r.json()["data"] for r in server.accepted()]
    counts = [item["numPredictions"] for items in sent for item in items]
    assert counts == [1, 3, 4, 5, 6]
    assert result.quarantined == 1
    inspect = FilesystemSpool(tmp_path / "spool")
    (parked,) = list(inspect.quarantined())
    assert "CRC-32 mismatch" in parked.reason
    inspect.close()


def test_one_agent_runs_twice_with_a_fresh_http_client_each_time(tmp_path: Path) -> None:
    first, second = _stats_records(3), _stats_records(2)
    spool = FilesystemSpool(tmp_path / "spool", create=True)
    spool.write(first)
    spool.close()
    with RecordingServer() as server:
        agent = Agent(_config(server.url, tmp_path / "spool"))
        assert agent.run(until_empty=True).records_sent == 3
        spool = FilesystemSpool(tmp_path / "spool")
        spool.write(second)
        spool.close()
        assert agent.run(until_empty=True).records_sent == 2
    assert _ids_in_order(server.accepted()) == [r.id for r in first + second]


def test_a_50_mib_line_is_quarantined_small_while_the_agent_delivers_the_rest(
    tmp_path: Path,
) -> None:
    before, after = _stats_records(3), _stats_records(4)
    spool = FilesystemSpool(tmp_path / "spool", create=True)
    spool.write(before)
    with open(tmp_path / "spool" / "fs_spool.1", "ab") as file:
        file.write(b'{"header": {"id": "huge"}, "blob": "')
        for _ in range(50):
            file.write(b"x" * (1 << 20))
        file.write(b'"}\n')
    spool.write(after)
    spool.close()
    with RecordingServer() as server:
        tracemalloc.start()
        try:
            result = _drain(_config(server.url, tmp_path / "spool"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert _ids_in_order(server.accepted()) == [r.id for r in before + after]
    assert result.quarantined == 1
    assert peak < 20 << 20, f"the agent allocated {peak / (1 << 20):.1f} MiB"
    quarantine = tmp_path / "spool" / "quarantine" / "quarantine.jsonl"
    assert quarantine.stat().st_size < 4096
    (entry,) = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert entry["size"] == 50 * (1 << 20) + len(b'{"header": {"id": "huge"}, "blob": ""}')
    assert entry["truncated"] is True and "max_record_bytes" in entry["error"]
