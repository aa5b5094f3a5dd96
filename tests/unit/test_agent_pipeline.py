"""A channel reads its next batch while the one before is being sent, and acks in order of
acceptance only."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from spoolwatch.agent import Agent
from spoolwatch.errors import DestinationUnavailable
from spoolwatch.records import Record
from spoolwatch.sinks.base import SendResult, Sink
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.spools.base import Delivery
from spoolwatch.spools.memory import MemorySpool
from tests.unit.test_agent_loop import make_config, stats_record


class GatedSink(Sink):
    """Holds every send until the test opens the gate; can fail the first ``fail`` sends."""

    kind = "gated"

    def __init__(self, fail: int = 0) -> None:
        self.gate = threading.Event()
        self.sending = threading.Event()
        self.fail = fail
        self.batches: list[list[str]] = []

    def send(self, records: Sequence[Record]) -> SendResult:
        self.sending.set()
        assert self.gate.wait(10), "the test never opened the gate"
        self.batches.append([str(r.id) for r in records])
        result = SendResult(requests=1)
        if self.fail > 0:
            self.fail -= 1
            result.failure = DestinationUnavailable("HTTP 503")
            result.failure_kind = "http_5xx"
            return result
        result.accepted = list(range(len(records)))
        return result


class WatchedSpool(MemorySpool):
    """A memory spool that counts reads and remembers what was acked and extended."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.reads = 0
        self.acked: list[str] = []
        self.extended: set[str] = set()
        self.changed = threading.Condition()

    def read(self, max_records: int, wait: float = 0.0) -> list[Delivery]:
        deliveries = super().read(max_records, wait)
        with self.changed:
            self.reads += 1 if deliveries else 0
            self.changed.notify_all()
        return deliveries

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        self.acked += [str(d.record_id) for d in deliveries]
        super().ack(deliveries)

    def extend(self, deliveries: Sequence[Delivery], seconds: float) -> None:
        self.extended |= {str(d.record_id) for d in deliveries}


@pytest.fixture
def spool(request: pytest.FixtureRequest) -> Iterator[WatchedSpool]:
    name = f"pipeline-{request.node.name}"
    MemorySpool.reset(name)
    yield WatchedSpool(name)
    MemorySpool.reset(name)


def _run(spool: WatchedSpool, sink: Sink) -> tuple[Agent, threading.Thread, list[Any]]:
    config = make_config(spool.name, batching=BatchingConfig(max_records=10, wait_seconds=0.01))
    agent = Agent(config, sink, open_spool=lambda address, **_: spool)
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(agent.run(until_empty=True)))
    runner.start()
    return agent, runner, results


def test_the_next_batch_is_read_while_one_is_being_sent_and_nothing_is_acked_early(
    spool: WatchedSpool,
) -> None:
    records = [stats_record(n=i + 1) for i in range(30)]
    spool.write(records)
    sink = GatedSink()
    _, runner, results = _run(spool, sink)
    assert sink.sending.wait(5)
    with spool.changed:
        assert spool.changed.wait_for(lambda: spool.reads >= 2, timeout=5)
    assert spool.acked == []  # the first batch is still being sent
    sink.gate.set()
    runner.join(10)
    assert results and results[0].records_sent == 30 and results[0].exit_code == 0
    assert sorted(spool.acked) == sorted(str(r.id) for r in records)
    assert [i for batch in sink.batches for i in batch] == [str(r.id) for r in records]


def test_a_batch_read_during_a_retry_is_held_and_extended_then_sent(spool: WatchedSpool) -> None:
    records = [stats_record(n=i + 1) for i in range(20)]
    spool.write(records)
    sink = GatedSink(fail=2)
    _, runner, results = _run(spool, sink)
    with spool.changed:
        assert spool.changed.wait_for(lambda: spool.reads >= 2, timeout=5)
    sink.gate.set()
    runner.join(10)
    assert results and results[0].records_sent == 20 and results[0].retries == 2
    second = {str(r.id) for r in records[10:]}
    assert second <= spool.extended  # kept in hand while the first batch was retried
    assert sink.batches[0] == sink.batches[1] == sink.batches[2]  # first batch, 2 retries
    assert set(sink.batches[3]) == second
    assert sorted(spool.acked) == sorted(str(r.id) for r in records)


def test_a_stop_while_a_batch_is_being_sent_acks_it_before_the_reader_ends(
    spool: WatchedSpool,
) -> None:
    spool.write([stats_record() for _ in range(10)])
    sink = GatedSink()
    agent, runner, results = _run(spool, sink)
    assert sink.sending.wait(5)
    agent.stop()
    sink.gate.set()
    runner.join(10)
    assert len(spool.acked) == 10 and spool.backlog().total == 0
    assert results[0].records_sent == 10
