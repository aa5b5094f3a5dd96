"""The spool contract (``spoolwatch.spools.base``) as tests, written once for every transport.

How to run them for a transport: subclass :class:`SpoolContract` in a module whose name
starts with ``test_``, name the subclass ``Test...``, and provide two fixtures::

    from tests.spool_contract import SpoolContract

    class TestSqsSpoolContract(SpoolContract):
        ordered = False              # standard queues do not keep order
        redelivery_wait = 5.0        # how long a closed consumer's records take to come back

        @pytest.fixture
        def open_spool(self, moto_server) -> Callable[[], Spool]:
            url = make_queue(...)    # one fresh, empty queue per test
            return lambda: SqsSpool.from_url(url)   # a NEW spool object on that queue per call

        @pytest.fixture
        def put_undecodable(self) -> Callable[[Spool, bytes], None]:
            return lambda spool, raw: send_raw_message(spool, raw)

``open_spool`` returns a callable; every call must open a new spool object on the same,
initially empty, place (directory, queue). Spools opened through it are closed after the
test. ``put_undecodable(spool, raw)`` puts bytes that are not a record into that place the
way a broken producer would.

Class attributes say what may legitimately differ between transports (``ordered``,
``keeps_record_ids``, ``commits_a_prefix``, ``read_wait``, ``redelivery_wait``,
``empty_wait``); :meth:`SpoolContract.assert_backlog` can be overridden where counts are only
eventually right (SQS), e.g. to poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest

from spoolwatch.records import DataType, Record
from spoolwatch.spools.base import Backlog, Delivery, Spool

__all__ = ["SpoolContract", "sample_records"]

DEPLOYMENT = "650a1b2c3d4e5f6a7b8c9d0e"
MODEL = "650a1b2c3d4e5f6a7b8c9d0f"
STAMP = "2026-11-24 20:01:33.369+0100"


def sample_records(count: int, *, tag: str = "r") -> list[Record]:
    """``count`` valid records of several data types, each recognisable by its payload."""
    records = []
    for i in range(count):
        marker = f"{tag}-{i}"
        kind = i % 4
        if kind == 0:
            payload = {
                "timestamp": STAMP,
                "modelId": MODEL,
                "batchId": marker,
                "numPredictions": i,
                "executionTime": 12.5,
                "userError": False,
                "systemError": False,
            }
            data_type = DataType.DEPLOYMENT_STATS
        elif kind == 1:
            payload = {
                "timestamp": STAMP,
                "modelId": MODEL,
                "batchId": marker,
                "features": {"age": [34.0, None], "region": ["north", "süd"]},
                "predictions": [0.25, 1.5],
                "associationIds": [f"{marker}-a", f"{marker}-b"],
            }
            data_type = DataType.PREDICTIONS_DATA
        elif kind == 2:
            payload = {
                "timestamp": "2026-11-24 20:01:33.401599",
                "eventType": "prediction_request.failed",
                "message": marker,
                "orgId": None,
                "deploymentId": DEPLOYMENT,
                "data": {"n": i},
            }
            data_type = DataType.EVENT
        else:
            payload = {
                "modelId": None,
                "customMetricId": "6512aa00bb11cc22dd33ee46",
                "buckets": [{"timestamp": STAMP, "value": float(i)}],
                "tag": marker,
            }
            data_type = DataType.CUSTOM_METRIC
        records.append(Record.new(data_type, DEPLOYMENT, payload))
    return records


def _content(record: Record | None) -> tuple[object, ...]:
    assert record is not None
    return (record.deployment_id, record.data_type, record.payload)


class SpoolContract:
    """Every test here is one promise of :class:`spoolwatch.spools.base.Spool`."""

    #: Deliveries come back in write order (and nacked ones ahead of newer ones).
    ordered: ClassVar[bool] = True
    #: ``record.id`` survives the trip (binary spool files carry no id: they get a frame id).
    keeps_record_ids: ClassVar[bool] = True
    #: Seconds a read may wait for records that were just written.
    read_wait: ClassVar[float] = 1.0
    #: Seconds until records left in flight by a closed spool object can be read again.
    redelivery_wait: ClassVar[float] = 1.0
    #: Progress is one committed position (filesystem): after a restart, records acked
    #: behind an un-acked one are delivered again (at-least-once), not just the un-acked.
    commits_a_prefix: ClassVar[bool] = False
    #: The wait used for "nothing is there" checks.
    empty_wait: ClassVar[float] = 0.3

    # -- fixtures a transport provides ----------------------------------------------------

    @pytest.fixture
    def open_spool(self) -> Callable[[], Spool]:
        """A callable opening a new spool object on one fresh, empty place per test."""
        raise NotImplementedError("a SpoolContract subclass must provide open_spool")

    @pytest.fixture
    def put_undecodable(self) -> Callable[[Spool, bytes], None]:
        """A callable putting bytes that are not a record into the spool."""
        raise NotImplementedError("a SpoolContract subclass must provide put_undecodable")

    # -- shared fixtures and helpers -------------------------------------------------------

    @pytest.fixture
    def new_spool(self, open_spool: Callable[[], Spool]) -> Iterator[Callable[[], Spool]]:
        opened: list[Spool] = []

        def make() -> Spool:
            spool = open_spool()
            opened.append(spool)
            return spool

        yield make
        for spool in reversed(opened):
            spool.close()

    @pytest.fixture
    def spool(self, new_spool: Callable[[], Spool]) -> Spool:
        return new_spool()

    def read_n(self, spool: Spool, count: int, wait: float | None = None) -> list[Delivery]:
        """Read until ``count`` deliveries arrived or the wait ran out."""
        deadline = time.monotonic() + (self.read_wait if wait is None else wait)
        got: list[Delivery] = []
        while len(got) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            got += spool.read(count - len(got), wait=remaining)
        return got

    def assert_same_records(self, deliveries: list[Delivery], records: list[Record]) -> None:
        assert all(d.error is None for d in deliveries), [d.error for d in deliveries]
        got = [_content(d.record) for d in deliveries]
        want = [_content(r) for r in records]
        if self.ordered:
            assert got == want
        else:
            assert sorted(map(repr, got)) == sorted(map(repr, want))
        if self.keeps_record_ids:
            ids = [d.record_id for d in deliveries]
            want_ids = [r.id for r in records]
            assert (
                ids == want_ids
                if self.ordered
                else sorted(map(str, ids)) == sorted(map(str, want_ids))
            )

    def assert_backlog(self, spool: Spool, visible: int, in_flight: int) -> None:
        """Override to poll where the transport's counts lag (SQS)."""
        assert spool.backlog() == Backlog(visible=visible, in_flight=in_flight)

    # -- the contract ---------------------------------------------------------------------

    def test_written_records_are_read_back_with_the_same_content(self, spool: Spool) -> None:
        records = sample_records(6)
        spool.write(records)
        deliveries = self.read_n(spool, 6)
        self.assert_same_records(deliveries, records)

    def test_every_delivery_has_a_record_id_and_a_position(self, spool: Spool) -> None:
        spool.write(sample_records(3))
        deliveries = self.read_n(spool, 3)
        assert len(deliveries) == 3
        assert all(d.record_id for d in deliveries)
        assert len({d.record_id for d in deliveries}) == 3
        assert all(d.position for d in deliveries)

    def test_read_returns_at_most_max_records(self, spool: Spool) -> None:
        spool.write(sample_records(5))
        first = spool.read(2, wait=self.read_wait)
        assert 1 <= len(first) <= 2

    def test_records_written_after_a_read_are_read_later(self, spool: Spool) -> None:
        early, late = sample_records(2, tag="early"), sample_records(2, tag="late")
        spool.write(early)
        first = self.read_n(spool, 2)
        spool.write(late)
        second = self.read_n(spool, 2)
        self.assert_same_records(first + second, early + late)

    def test_acked_records_are_not_read_again(self, spool: Spool) -> None:
        spool.write(sample_records(3))
        spool.ack(self.read_n(spool, 3))
        assert spool.read(10, wait=self.empty_wait) == []
        self.assert_backlog(spool, visible=0, in_flight=0)

    def test_acked_records_stay_acked_for_a_new_spool_object(
        self, new_spool: Callable[[], Spool]
    ) -> None:
        first = new_spool()
        first.write(sample_records(3))
        first.ack(self.read_n(first, 3))
        first.close()
        assert new_spool().read(10, wait=self.empty_wait) == []

    def test_nacked_records_are_read_again(self, spool: Spool) -> None:
        records = sample_records(3)
        spool.write(records)
        deliveries = self.read_n(spool, 3)
        spool.nack([deliveries[1]])
        again = self.read_n(spool, 1, wait=self.redelivery_wait)
        assert [_content(d.record) for d in again] == [_content(deliveries[1].record)]

    def test_nacked_records_come_back_before_newer_ones(self, spool: Spool) -> None:
        records = sample_records(3)
        spool.write(records)
        deliveries = self.read_n(spool, 2)
        assert len(deliveries) == 2
        spool.nack(deliveries)
        again = self.read_n(spool, 3, wait=self.redelivery_wait)
        self.assert_same_records(again, records)

    def test_unacked_records_are_redelivered_to_a_new_spool_object_after_close(
        self, new_spool: Callable[[], Spool]
    ) -> None:
        records = sample_records(4)
        first = new_spool()
        first.write(records)
        deliveries = self.read_n(first, 4)
        assert len(deliveries) == 4
        first.ack([deliveries[0], deliveries[2]])
        first.close()
        second = new_spool()
        expected = records[1:] if self.commits_a_prefix else [records[1], records[3]]
        again = self.read_n(second, len(expected), wait=self.redelivery_wait)
        self.assert_same_records(again, expected)
        assert second.read(10, wait=self.empty_wait) == []

    def test_quarantine_records_the_reason_and_removes_from_the_backlog(self, spool: Spool) -> None:
        spool.write(sample_records(2))
        deliveries = self.read_n(spool, 2)
        spool.quarantine([deliveries[0]], "rejected by the destination: 422 bad field")
        self.assert_backlog(spool, visible=0, in_flight=1)
        parked = list(spool.quarantined())
        assert [item.reason for item in parked] == ["rejected by the destination: 422 bad field"]
        assert parked[0].raw == deliveries[0].raw
        spool.ack([deliveries[1]])
        assert spool.read(10, wait=self.empty_wait) == []

    def test_backlog_counts_visible_and_in_flight_records(self, spool: Spool) -> None:
        self.assert_backlog(spool, visible=0, in_flight=0)
        spool.write(sample_records(3))
        self.assert_backlog(spool, visible=3, in_flight=0)
        deliveries = self.read_n(spool, 1)
        self.assert_backlog(spool, visible=2, in_flight=1)
        spool.ack(deliveries)
        self.assert_backlog(spool, visible=2, in_flight=0)

    def test_undecodable_bytes_come_back_as_an_error_delivery_that_can_be_quarantined(
        self, spool: Spool, put_undecodable: Callable[[Spool, bytes], None]
    ) -> None:
        good = sample_records(1)
        put_undecodable(spool, b"this is not a monitoring record")
        spool.write(good)
        deliveries = self.read_n(spool, 2)
        bad = [d for d in deliveries if d.error is not None]
        fine = [d for d in deliveries if d.error is None]
        assert len(bad) == 1 and bad[0].record is None
        assert b"this is not a monitoring record" in bad[0].raw
        self.assert_same_records(fine, good)
        spool.quarantine(bad, f"undecodable: {bad[0].error}")
        spool.ack(fine)
        assert [item.position for item in spool.quarantined()] == [bad[0].position]
        assert spool.read(10, wait=self.empty_wait) == []
        self.assert_backlog(spool, visible=0, in_flight=0)

    def test_peek_does_not_consume(self, spool: Spool) -> None:
        records = sample_records(3)
        spool.write(records)
        peeked = list(spool.peek())
        assert len(peeked) == 3
        assert len(list(spool.peek(limit=2))) == 2
        self.assert_backlog(spool, visible=3, in_flight=0)
        self.assert_same_records(self.read_n(spool, 3), records)

    def test_read_with_wait_on_an_empty_spool_returns_nothing_after_the_wait(
        self, spool: Spool
    ) -> None:
        started = time.monotonic()
        assert spool.read(10, wait=self.empty_wait) == []
        assert time.monotonic() - started >= self.empty_wait * 0.5
