"""A repeating 5xx against a real HTTP server and real filesystem spools: the records that
fail alone are quarantined and the rest delivered; a true outage is still waited out."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

from spoolwatch.agent import Agent, AgentConfig, AgentResult, ChannelConfig, TargetConfig
from spoolwatch.agent.config import RetryConfig
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.sinks.testing import RecordingServer
from spoolwatch.spools.filesystem import FilesystemSpool
from tests.conftest import free_port

FAST_RETRY = RetryConfig(
    initial_seconds=0.02, max_seconds=0.2, jitter=0.2, shutdown_grace_seconds=2
)
#: A model id only the records the test server cannot "fold" carry.
POISON = "poison-model"


def _stats(deployment: str, model: str = "m", n: int = 1) -> Record:
    return Record.new(
        DataType.DEPLOYMENT_STATS,
        deployment,
        {
            "timestamp": "2024-01-01 00:00:00.000+0000",
            "modelId": model,
            "numPredictions": n,
            "executionTime": 1.0,
        },
    )


def _spool(directory: Path, records: list[Record]) -> Path:
    spool = FilesystemSpool(directory, create=True)
    spool.write(records)
    spool.close()
    return directory


def _config(url: str, *spools: Path) -> AgentConfig:
    return AgentConfig(
        target=TargetConfig(url=url),
        channels=[ChannelConfig(name=f"fs{i}", address=str(d)) for i, d in enumerate(spools)],
        batching=BatchingConfig(max_records=100, wait_seconds=0.05, max_records_per_request=20),
        retry=FAST_RETRY,
        heartbeat=False,
        stats_interval_seconds=1,
    )


def _drain(config: AgentConfig) -> AgentResult:
    with Agent(config) as agent:
        return agent.run(until_empty=True, max_seconds=60)


def _delivered(server: RecordingServer) -> Counter[str]:
    return Counter(rid for r in server.accepted() for rid in r.record_ids)


def _quarantined(directory: Path) -> list[tuple[str, bytes]]:
    spool = FilesystemSpool(directory)
    try:
        assert spool.backlog().total == 0
        return [(item.reason, item.raw) for item in spool.quarantined()]
    finally:
        spool.close()


def test_records_the_service_cannot_fold_are_quarantined_and_every_other_record_delivered(
    tmp_path: Path,
) -> None:
    # Two spools (two deployments' models sharing an agent): a poison record in one of
    # them must not hold back the other, nor the good records behind it.
    first = [_stats(f"d{i % 3}", n=i + 1) for i in range(240)]
    bad = [_stats("d1", model=POISON, n=7), _stats("d2", model=POISON, n=8)]
    first[57:57] = bad[:1]
    first[190:190] = bad[1:]
    second = [_stats("e1", n=i + 1) for i in range(120)]
    spools = _spool(tmp_path / "a", first), _spool(tmp_path / "b", second)
    with RecordingServer() as server:
        server.answer_body(POISON.encode(), 500, b'{"message":"cannot fold this record"}')
        started = time.monotonic()
        result = _drain(_config(server.url, *spools))
        elapsed = time.monotonic() - started
        failed = [r for r in server.requests if r.status == 500]
    good = [r for r in first + second if r not in bad]
    assert result.exit_code == 0 and result.stopped_by == "empty" and elapsed < 30
    assert _delivered(server) == Counter(str(r.id) for r in good)
    parked = _quarantined(tmp_path / "a")
    assert len(parked) == 2 and result.quarantined == 2
    for reason, raw in parked:
        assert "HTTP 500" in reason and "cannot fold this record" in reason
        assert "alone" in reason and POISON.encode() in raw
    assert _quarantined(tmp_path / "b") == []
    # Three tries of the merged request, then a few halvings: not one request per record.
    assert len(failed) < 40


def test_a_lone_poison_record_is_quarantined_on_the_probes_word(tmp_path: Path) -> None:
    # Nothing else in the batch succeeds: the service's answer to the probe (the
    # known-records question) is what shows it is up.
    spool = _spool(tmp_path / "spool", [_stats("d1", model=POISON)])
    with RecordingServer() as server:
        server.answer_body(POISON.encode(), 500)
        result = _drain(_config(server.url, spool))
        probes = server.probes
    # One question at start (the token), one after the third failure (is it up?).
    assert result.exit_code == 0 and result.quarantined == 1 and probes == 2
    ((reason, _),) = _quarantined(spool)
    assert "HTTP 500" in reason


def test_a_service_that_is_down_is_retried_until_it_is_back_and_nothing_is_quarantined(
    tmp_path: Path,
) -> None:
    records = [_stats(f"d{i % 4}", n=i + 1) for i in range(300)]
    spool = _spool(tmp_path / "spool", records)
    port = free_port()
    outcome: list[AgentResult] = []
    agent = Agent(_config(f"http://127.0.0.1:{port}", spool))
    runner = threading.Thread(
        target=lambda: outcome.append(agent.run(until_empty=True, max_seconds=60))
    )
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while sum(agent.stats["fs0"].failures.values()) < 8:
            assert time.monotonic() < deadline, "the agent did not retry"
            time.sleep(0.05)
        with RecordingServer(port=port) as server:
            runner.join(30)
            delivered = _delivered(server)
    finally:
        agent.stop()
        agent.stop()
        runner.join(10)
        agent.close()
    (result,) = outcome
    assert result.exit_code == 0 and result.quarantined == 0
    assert result.failures.get("connection", 0) >= 8
    assert delivered == Counter(str(r.id) for r in records)
    assert _quarantined(spool) == []
