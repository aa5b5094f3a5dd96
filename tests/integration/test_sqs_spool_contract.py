"""The shared spool contract, run against SQS standard and FIFO queues in moto's server mode."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from spoolwatch.spools.base import Backlog, Spool
from spoolwatch.spools.sqs import SqsSpool, from_url
from tests.spool_contract import SpoolContract, sample_records

boto3 = pytest.importorskip("boto3")

pytestmark = pytest.mark.aws


class _SqsContract(SpoolContract):
    fifo: ClassVar[bool] = False
    redelivery_wait = 2.0

    @pytest.fixture
    def open_spool(self, moto_server: str) -> Callable[[], Spool]:
        name = f"sw-contract-{uuid.uuid4().hex[:16]}" + (".fifo" if self.fifo else "")
        attributes = {"FifoQueue": "true"} if self.fifo else {}
        url = boto3.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return lambda: from_url(url)

    @pytest.fixture
    def put_undecodable(self) -> Callable[[Spool, bytes], None]:
        def put(spool: Spool, raw: bytes) -> None:
            assert isinstance(spool, SqsSpool)
            spool.write_raw([raw.decode("utf-8")])

        return put

    def assert_backlog(self, spool: Spool, visible: int, in_flight: int) -> None:
        """SQS counts are approximate and lag: poll briefly for the expected counts."""
        deadline = time.monotonic() + 2.0
        want = Backlog(visible=visible, in_flight=in_flight)
        got: Any = spool.backlog()
        while got != want and time.monotonic() < deadline:
            time.sleep(0.05)
            got = spool.backlog()
        assert got == want


class TestSqsStandardSpoolContract(_SqsContract):
    """Standard queues do not keep order."""

    ordered = False


class TestSqsFifoSpoolContract(_SqsContract):
    """FIFO queues keep order within a message group (one group per producer).

    SQS hands out nothing more of a message group while some of it is in flight, so the two
    contract tests that read again with earlier records still in hand are restated here:
    the promise holds once those earlier records are settled."""

    fifo = True
    ordered = True

    def test_records_written_after_a_read_are_read_later(self, spool: Spool) -> None:
        early, late = sample_records(2, tag="early"), sample_records(2, tag="late")
        spool.write(early)
        first = self.read_n(spool, 2)
        spool.write(late)
        assert spool.read(10, wait=self.empty_wait) == []  # the group is locked meanwhile
        spool.ack(first)
        second = self.read_n(spool, 2)
        self.assert_same_records(first + second, early + late)

    def test_nacked_records_are_read_again(self, spool: Spool) -> None:
        records = sample_records(3)
        spool.write(records)
        deliveries = self.read_n(spool, 3)
        spool.nack([deliveries[1]])
        spool.ack([deliveries[0]])
        assert spool.read(10, wait=self.empty_wait) == []  # deliveries[2] still in hand
        spool.ack([deliveries[2]])
        again = self.read_n(spool, 1, wait=self.redelivery_wait)
        self.assert_same_records(again, records[1:2])
        assert again[0].redelivered
