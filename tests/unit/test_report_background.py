"""Background mode: a bounded buffer that never holds the model up and never hides a drop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime

import pytest

from spoolwatch.errors import SpoolUnavailable
from spoolwatch.records import DataType, Record
from spoolwatch.report import DROP_EVENT_TYPE, Reporter, ReporterConfig
from spoolwatch.spools import MemorySpool

DEP = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
# Generous: a spool that blocks for ever would hold the call for ever without the bound.
NEVER_SLOWER_THAN = 2.0


class GatedSpool(MemorySpool):
    """A memory spool whose writes wait until the test opens the gate."""

    def __init__(self, name: str) -> None:
        MemorySpool.reset(name)
        super().__init__(name)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def write(self, records: Sequence[Record]) -> None:
        self.entered.set()
        self.gate.wait()
        super().write(records)


class FlakySpool(MemorySpool):
    """A memory spool whose first ``failures`` writes raise."""

    def __init__(self, name: str, failures: int) -> None:
        MemorySpool.reset(name)
        super().__init__(name)
        self.failures = failures
        self.attempts = 0

    def write(self, records: Sequence[Record]) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise SpoolUnavailable("broker gone")
        super().write(records)


def config(**changes: object) -> ReporterConfig:
    base = ReporterConfig(
        deployment_id=DEP,
        model_id=MODEL,
        background=True,
        buffer_size=1,
        max_block_seconds=0.05,
    )
    return base.replace(**changes)


def events(spool: MemorySpool) -> list[Record]:
    out = []
    for delivery in spool.read(1_000):
        assert delivery.record is not None
        out.append(delivery.record)
    return out


def test_reports_never_wait_longer_than_the_bound_on_a_stuck_spool() -> None:
    spool = GatedSpool("bg-stuck")
    reporter = Reporter(spool, config=config())
    try:
        for i in range(5):
            started = time.monotonic()
            reporter.report_event("x", f"event {i}")
            assert time.monotonic() - started < NEVER_SLOWER_THAN
    finally:
        spool.gate.set()
        reporter.close()


def test_full_buffer_drops_are_counted_and_reported_as_an_event_when_room_returns() -> None:
    spool = GatedSpool("bg-drops")
    reporter = Reporter(spool, config=config(rows_per_record=10))
    reporter.report_event("x", "first")  # taken by the writer, which then blocks in write()
    assert spool.entered.wait(5)
    reporter.report_event("x", "second")  # fills the one-slot buffer
    reporter.report_predictions_data(predictions=[1.0] * 30)  # 3 records, dropped
    reporter.report_event("x", "fourth")  # dropped
    dropped = reporter.dropped
    assert (dropped.reports, dropped.buffer_full, dropped.write_failed) == (2, 2, 0)
    assert dropped.records == 4
    spool.gate.set()
    assert reporter.flush(5)
    reporter.close()
    written = events(spool)
    messages = [r.payload["message"] for r in written if r.data_type == DataType.EVENT]
    assert messages[0] == "first" and "second" in messages
    (drop,) = [r for r in written if r.payload.get("eventType") == DROP_EVENT_TYPE]
    assert drop.deployment_id == DEP
    assert drop.payload["data"]["droppedReports"] == 2
    assert drop.payload["data"]["droppedRecords"] == 4
    assert drop.payload["data"]["bufferFull"] == 2
    assert drop.payload["data"]["modelId"] == MODEL


def test_drops_are_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    spool = GatedSpool("bg-log")
    reporter = Reporter(spool, config=config())
    with caplog.at_level(logging.WARNING, logger="spoolwatch.report"):
        reporter.report_event("x", "1")
        assert spool.entered.wait(5)
        reporter.report_event("x", "2")
        reporter.report_event("x", "3")
    spool.gate.set()
    reporter.close()
    assert "dropped 1 reports" in caplog.text


def test_failed_writes_are_retried_then_succeed_without_a_drop() -> None:
    spool = FlakySpool("bg-flaky", failures=2)
    reporter = Reporter(spool, config=config(buffer_size=10))
    reporter.report_event("x", "kept")
    reporter.close()
    assert spool.attempts == 3
    assert reporter.dropped.reports == 0
    assert [r.payload["message"] for r in events(spool)] == ["kept"]


def test_writes_that_keep_failing_are_counted_and_reported_once_the_spool_recovers() -> None:
    spool = FlakySpool("bg-failing", failures=4)  # 1 try + 3 retries fail: the report is lost
    reporter = Reporter(spool, config=config(buffer_size=10))
    reporter.report_event("x", "lost")
    assert reporter.flush(10)
    assert reporter.dropped.write_failed == 1
    reporter.report_event("x", "after")
    reporter.close()
    written = events(spool)
    assert [r.payload["eventType"] for r in written] == [DROP_EVENT_TYPE, "x"]
    assert written[0].payload["data"]["writeFailed"] == 1
    assert written[1].payload["message"] == "after"


def test_close_writes_everything_buffered() -> None:
    MemorySpool.reset("bg-drain")
    spool = MemorySpool("bg-drain")
    reporter = Reporter(spool, config=config(buffer_size=100, max_block_seconds=1.0))
    for i in range(50):
        reporter.report_deployment_stats(i, 1.0)
    reporter.close()
    assert [r.payload["numPredictions"] for r in events(spool)] == list(range(50))
    assert reporter.dropped.reports == 0


def test_close_with_a_timeout_on_a_stuck_spool_counts_what_was_left() -> None:
    spool = GatedSpool("bg-close-timeout")
    reporter = Reporter(spool, config=config(buffer_size=5))
    reporter.report_event("x", "1")
    assert spool.entered.wait(5)
    reporter.report_event("x", "2")
    reporter.report_event("x", "3")
    reporter.close(timeout=0.1)
    assert reporter.dropped.reports == 2
    spool.gate.set()


def test_background_records_are_the_same_as_synchronous_ones() -> None:
    MemorySpool.reset("bg-same")
    MemorySpool.reset("sync-same")
    moment = datetime(2024, 3, 1, 12)
    sync = Reporter(MemorySpool("sync-same"), config=config(background=False), clock=lambda: moment)
    bg = Reporter(MemorySpool("bg-same"), config=config(buffer_size=10), clock=lambda: moment)
    for reporter in (sync, bg):
        reporter.report_predictions_data({"x": [1, 2]}, [0.5, 0.25], ["a", "b"])
        reporter.close()
    ours = [r.payload for r in events(MemorySpool("sync-same"))]
    theirs = [r.payload for r in events(MemorySpool("bg-same"))]
    assert ours == theirs and len(ours) == 1


def test_drop_event_goes_to_the_deployment_reported_to_when_there_is_no_default() -> None:
    spool = GatedSpool("bg-no-default")
    no_ids = ReporterConfig(background=True, buffer_size=1, max_block_seconds=0.05)
    reporter = Reporter(spool, config=no_ids)
    other = "650a1b2c3d4e5f6a7b8c9d99"
    reporter.report_event("x", "1", deployment_id=other)
    assert spool.entered.wait(5)
    reporter.report_event("x", "2", deployment_id=other)
    reporter.report_event("x", "3", deployment_id=other)
    spool.gate.set()
    reporter.close()
    (drop,) = [r for r in events(spool) if r.payload["eventType"] == DROP_EVENT_TYPE]
    assert drop.deployment_id == other
    assert drop.payload["deploymentId"] == other
