"""A repeating server error: bisected down to the records that fail alone, or waited out."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence

import pytest

from spoolwatch.agent import Agent
from spoolwatch.agent.config import RetryConfig
from spoolwatch.agent.isolation import ServerErrorStreak, is_record_error, isolate
from spoolwatch.errors import DestinationUnavailable
from spoolwatch.records import Record
from spoolwatch.sinks.base import SendResult, Sink
from spoolwatch.spools.memory import MemorySpool
from tests.unit.test_agent_loop import make_config, stats_record


class PoisonSink(Sink):
    """Fails every send that carries a poison record with ``status``; accepts the rest.

    Like the HTTP sink with one request per send: nothing of a failing send is settled.
    """

    kind = "poison"

    def __init__(
        self,
        poison: Sequence[str] = (),
        *,
        status: int = 500,
        answering: bool = True,
        retry_after: float | None = None,
    ) -> None:
        self.poison = set(poison)
        self.status = status
        self.answering = answering
        self.retry_after = retry_after
        self.accepted: list[str] = []
        self.sends = 0
        self.probes = 0
        self.lock = threading.Lock()

    def send(self, records: Sequence[Record]) -> SendResult:
        with self.lock:
            self.sends += 1
            result = SendResult()
            if any(r.id in self.poison for r in records):
                result.failure = DestinationUnavailable(
                    f"POST /x: HTTP {self.status}",
                    status=self.status,
                    body='{"message":"cannot fold"}',
                    retry_after=self.retry_after,
                )
                result.failure_kind = "http_5xx"
                return result
            result.accepted = list(range(len(records)))
            result.requests = 1
            self.accepted.extend(str(r.id) for r in records)
            return result

    def answers(self) -> bool:
        with self.lock:
            self.probes += 1
            return self.answering


def _failure(status: int = 500, **extra: float) -> tuple[DestinationUnavailable, str]:
    return DestinationUnavailable(f"HTTP {status}", status=status, **extra), "http_5xx"


def test_bisection_finds_each_record_that_fails_alone_and_accepts_the_rest() -> None:
    records = [stats_record(n=i + 1) for i in range(64)]
    poison = {str(records[5].id), str(records[40].id)}
    sink = PoisonSink(poison)
    outcome = isolate(sink, records, _failure(), stop=lambda: False)
    assert set(outcome.rejected) == {5, 40} and outcome.failure is None
    assert sorted(outcome.accepted) == [i for i in range(64) if i not in {5, 40}]
    reason = outcome.rejected[5].reason
    assert "HTTP 500" in reason and "cannot fold" in reason and "alone" in reason
    assert outcome.rejected[5].status == 500
    # Two poison records among 64: a couple of sends per halving, not one per record.
    assert sink.sends <= 2 * 2 * 6 + 1


def test_bisection_stops_at_an_outage_and_settles_nothing_more() -> None:
    records = [stats_record() for _ in range(8)]
    sink = PoisonSink([str(r.id) for r in records], status=503)
    outcome = isolate(sink, records, _failure(), stop=lambda: False)
    assert outcome.rejected == {} and outcome.accepted == []
    assert outcome.failure is not None and outcome.failure.status == 503
    assert sink.sends == 1


def test_bisection_reports_the_failure_when_told_to_stop() -> None:
    records = [stats_record() for _ in range(8)]
    failure = _failure()
    outcome = isolate(PoisonSink(), records, failure, stop=lambda: True)
    assert outcome.done() == set() and outcome.failure is failure[0]


@pytest.mark.parametrize(
    ("status", "retry_after", "counts"),
    [
        (500, None, True),
        (501, None, True),
        (502, None, False),
        (503, None, False),
        (504, None, False),
        (500, 5.0, False),
    ],
)
def test_only_server_errors_that_may_be_the_records_doing_count(
    status: int, retry_after: float | None, counts: bool
) -> None:
    result = SendResult()
    result.failure = DestinationUnavailable("x", status=status, retry_after=retry_after)
    result.failure_kind = "http_5xx"
    assert is_record_error(result) is counts
    streak = ServerErrorStreak(2)
    assert not streak.repeats(result)
    assert streak.repeats(result) is counts


def test_a_failure_of_another_kind_restarts_the_streak() -> None:
    error, outage = SendResult(), SendResult()
    error.failure, error.failure_kind = _failure()
    outage.failure, outage.failure_kind = DestinationUnavailable("refused"), "connection"
    streak = ServerErrorStreak(2)
    assert not streak.repeats(error)
    assert not streak.repeats(outage)
    assert not streak.repeats(error)
    assert streak.repeats(error)


@pytest.fixture
def spool_name(request: pytest.FixtureRequest) -> Iterator[str]:
    name = "isolation-" + re.sub(r"[^a-z0-9_]+", "-", request.node.name.lower())
    MemorySpool.reset(name)
    yield name
    MemorySpool.reset(name)


def test_record_the_service_cannot_fold_is_quarantined_and_the_rest_delivered(
    spool_name: str,
) -> None:
    spool = MemorySpool(spool_name)
    records = [stats_record(n=i + 1) for i in range(120)]
    bad = records[33]
    spool.write(records)
    sink = PoisonSink([str(bad.id)])
    config = make_config(spool_name)
    result = Agent(config, sink).run(until_empty=True, max_seconds=30)
    assert result.exit_code == 0 and result.stopped_by == "empty"
    assert sorted(sink.accepted) == sorted(str(r.id) for r in records if r is not bad)
    (parked,) = list(spool.quarantined())
    assert str(bad.id).encode() in parked.raw
    assert "HTTP 500" in parked.reason and "cannot fold" in parked.reason
    assert result.quarantined == 1 and spool.backlog().total == 0
    # The batch failed server_error_attempts times, then the probe was asked once.
    assert sink.probes == 1 and result.failures == {"http_5xx": 3}


def test_repeating_server_error_is_waited_out_while_the_destination_does_not_answer(
    spool_name: str,
) -> None:
    spool = MemorySpool(spool_name)
    records = [stats_record() for _ in range(10)]
    spool.write(records)
    sink = PoisonSink([str(records[0].id)], answering=False)
    result = Agent(make_config(spool_name), sink).run(until_empty=True, max_seconds=0.5)
    assert result.quarantined == 0 and sink.accepted == [] and result.unacked == 10
    assert sink.probes >= 1 and result.exit_code == 1
    assert spool.backlog().visible == 10


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (500, 1.0)])
def test_server_error_that_asks_to_wait_is_never_isolated(
    spool_name: str, status: int, retry_after: float | None
) -> None:
    spool = MemorySpool(spool_name)
    records = [stats_record() for _ in range(10)]
    spool.write(records)
    sink = PoisonSink([str(records[0].id)], status=status, retry_after=retry_after)
    retry = RetryConfig(initial_seconds=0.01, max_seconds=0.01, jitter=0)
    config = make_config(spool_name, retry=retry)
    result = Agent(config, sink).run(until_empty=True, max_seconds=0.3)
    assert result.quarantined == 0 and sink.probes == 0 and result.unacked == 10


def test_isolation_waits_for_the_configured_number_of_attempts(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    records = [stats_record() for _ in range(4)]
    spool.write(records)
    sink = PoisonSink([str(records[1].id)])
    retry = RetryConfig(initial_seconds=0.01, max_seconds=0.01, jitter=0, server_error_attempts=6)
    result = Agent(make_config(spool_name, retry=retry), sink).run(until_empty=True)
    assert result.failures == {"http_5xx": 6} and result.quarantined == 1
    assert len(sink.accepted) == 3
