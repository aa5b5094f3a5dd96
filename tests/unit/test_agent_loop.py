"""The agent loop over MemorySpool with scripted sinks: acks, retries, quarantine, stops."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from spoolwatch.agent import Agent, AgentConfig, ChannelConfig, TargetConfig
from spoolwatch.agent.config import QuarantineConfig, RetryConfig
from spoolwatch.errors import DestinationUnavailable, SpoolUnavailable
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.base import Rejection, SendResult, Sink
from spoolwatch.sinks.config import BatchingConfig
from spoolwatch.spools.base import Spool
from spoolwatch.spools.memory import MemorySpool
from spoolwatch.spools.registry import open_spool

FAST_RETRY = RetryConfig(
    initial_seconds=0.01, max_seconds=0.05, jitter=0.1, shutdown_grace_seconds=0.2
)


class ScriptedSink(Sink):
    """Accepts everything except: the first ``fail_times`` calls fail, ``reject`` ids refused."""

    kind = "scripted"

    def __init__(
        self,
        fail_times: int = 0,
        reject: Sequence[str] = (),
        always_fail: bool = False,
        kind: str = "http_5xx",
    ) -> None:
        self.fail_times = fail_times
        self.always_fail = always_fail
        self.reject = set(reject)
        self.failure_kind = kind
        self.accepted: list[str] = []
        self.calls = 0
        self.in_flight_seen: list[int] = []
        self.beats: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def send(self, records: Sequence[Record]) -> SendResult:
        with self.lock:
            self.calls += 1
            result = SendResult()
            if self.always_fail or self.calls <= self.fail_times:
                result.failure = DestinationUnavailable("HTTP 503", retry_after=None)
                result.failure_kind = self.failure_kind
                return result
            for index, record in enumerate(records):
                if record.id in self.reject:
                    result.rejected[index] = Rejection("HTTP 422: bad", status=422, body="bad")
                else:
                    result.accepted.append(index)
                    self.accepted.append(str(record.id))
                    result.rows += record.row_count()
            result.requests = 1
            return result

    def heartbeat(self, status: dict[str, Any]) -> bool:
        self.beats.append(status)
        return True


def stats_record(deployment: str | None = "d1", n: int = 1) -> Record:
    return Record.new(
        DataType.DEPLOYMENT_STATS,
        deployment,
        {
            "timestamp": "2024-01-01 00:00:00.000+0000",
            "modelId": "m",
            "numPredictions": n,
            "executionTime": 1.5,
        },
    )


@pytest.fixture
def spool_name(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"agent-{request.node.name}"
    MemorySpool.reset(name)
    yield name
    MemorySpool.reset(name)


def make_config(*names: str, **kwargs: Any) -> AgentConfig:
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("batching", BatchingConfig(max_records=50, wait_seconds=0.01))
    kwargs.setdefault("stats_interval_seconds", 0.2)
    kwargs.setdefault("heartbeat", False)
    return AgentConfig(
        target=TargetConfig(url="http://127.0.0.1:9"),
        channels=[ChannelConfig(name=n, address=f"memory://{n}") for n in names],
        **kwargs,
    )


def test_every_record_is_sent_in_order_and_acked(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    records = [stats_record(n=i + 1) for i in range(120)]
    spool.write(records)
    sink = ScriptedSink()
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.accepted == [r.id for r in records]
    assert spool.backlog().total == 0
    assert result.records_sent == 120 and result.exit_code == 0 and result.stopped_by == "empty"


def test_record_is_not_acked_when_sink_returns_503(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    records = [stats_record() for _ in range(10)]
    spool.write(records)
    sink = ScriptedSink(fail_times=3)
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.accepted == [r.id for r in records]
    assert result.retries == 3 and result.failures == {"http_5xx": 3}
    assert spool.backlog().total == 0 and result.exit_code == 0


def test_records_stay_in_flight_while_the_destination_is_down(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    spool.write([stats_record() for _ in range(5)])
    sink = ScriptedSink(always_fail=True)
    agent = Agent(make_config(spool_name), sink)
    runner = threading.Thread(target=agent.run, kwargs={"until_empty": True})
    runner.start()
    time.sleep(0.3)
    assert spool.backlog().in_flight == 5 and sink.accepted == []
    agent.stop()
    runner.join(5)
    assert not runner.is_alive()
    assert spool.backlog().visible == 5 and spool.backlog().in_flight == 0


def test_stop_with_destination_down_leaves_records_unacked_and_exit_code_1(
    spool_name: str,
) -> None:
    spool = MemorySpool(spool_name)
    spool.write([stats_record() for _ in range(7)])
    sink = ScriptedSink(always_fail=True, kind="connection")
    result = Agent(make_config(spool_name), sink).run(max_seconds=0.2)
    assert result.unacked == 7 and result.records_sent == 0
    assert result.exit_code == 1 and result.failed_because == "connection"
    assert result.stopped_by == "max_seconds"
    assert spool.backlog().visible == 7


def test_refused_token_stops_every_channel_at_once_and_quarantines_nothing(
    spool_name: str,
) -> None:
    other = f"{spool_name}-other"
    MemorySpool.reset(other)
    MemorySpool(spool_name).write([stats_record() for _ in range(7)])
    sink = ScriptedSink(always_fail=True, kind="auth")
    started = time.monotonic()
    # Without --until-empty too: the idle second channel must not keep the agent running.
    result = Agent(make_config(spool_name, other), sink).run(max_seconds=30)
    assert time.monotonic() - started < 5
    assert result.stopped_by == "auth" and sink.calls == 1
    assert result.exit_code == 2 and result.failed_because == "auth"
    assert set(result.channel_errors) == {spool_name}
    assert result.quarantined == 0 and result.unacked == 7
    assert MemorySpool(spool_name).backlog().visible == 7
    MemorySpool.reset(other)


def test_refused_credentials_at_start_read_nothing(spool_name: str) -> None:
    class Refusing(ScriptedSink):
        def check_credentials(self) -> str | None:
            return "the destination refused the API token"

    MemorySpool(spool_name).write([stats_record() for _ in range(3)])
    sink = Refusing()
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert result.exit_code == 2 and result.error == "the destination refused the API token"
    assert result.failed_because == "auth" and result.records_read == 0 and sink.calls == 0
    assert MemorySpool(spool_name).backlog().visible == 3
    dry = Agent(make_config(spool_name, dry_run=True), Refusing()).run(until_empty=True)
    assert dry.error is None and dry.records_read == 3


def test_undecodable_bytes_are_quarantined_and_the_rest_drained(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    good = [stats_record(), stats_record()]
    spool.write(good[:1])
    spool.write_raw(b"\x00\xffnot a record")
    spool.write(good[1:])
    sink = ScriptedSink()
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.accepted == [r.id for r in good]
    (parked,) = list(spool.quarantined())
    assert parked.raw == b"\x00\xffnot a record" and "undecodable" in parked.reason
    assert result.quarantined == 1 and spool.backlog().total == 0


def test_invalid_and_unroutable_records_are_quarantined_with_the_reason(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    invalid = Record.new(
        DataType.DEPLOYMENT_STATS,
        "d1",
        {"timestamp": "t", "numPredictions": -1, "executionTime": 1},
    )
    unroutable = stats_record(deployment=None)
    good = stats_record()
    spool.write([invalid, unroutable, good])
    sink = ScriptedSink()
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    reasons = [item.reason for item in spool.quarantined()]
    assert "numPredictions" in reasons[0]
    assert "no deployment id" in reasons[1]
    assert sink.accepted == [good.id] and result.quarantined == 2


def test_ping_and_unknown_types_are_counted_skipped_and_acked(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    ping = Record.new(DataType.PING_MSG, None, {"message": "hi"})
    unknown = Record(deployment_id="d1", data_type="SOMETHING_NEW", payload={}, id="u-1")
    legacy = Record(deployment_id="d1", data_type=DataType.FEATURE_DRIFT, payload={}, id="u-2")
    good = stats_record()
    spool.write([ping, unknown, legacy, good])
    sink = ScriptedSink()
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.accepted == [good.id]
    assert result.skipped == 3 and result.quarantined == 0
    assert spool.backlog().total == 0 and list(spool.quarantined()) == []


def test_unknown_types_can_be_quarantined_instead(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    spool.write([Record(deployment_id="d1", data_type=77, payload={}, id="u-3")])
    config = make_config(spool_name, quarantine=QuarantineConfig(unknown_types="quarantine"))
    result = Agent(config, ScriptedSink()).run(until_empty=True)
    assert result.quarantined == 1
    assert "UNKNOWN_77" in next(iter(spool.quarantined())).reason


def test_rejected_record_is_quarantined_and_neighbours_are_acked(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    records = [stats_record() for _ in range(3)]
    spool.write(records)
    sink = ScriptedSink(reject=[str(records[1].id)])
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.accepted == [records[0].id, records[2].id]
    (parked,) = list(spool.quarantined())
    assert "HTTP 422" in parked.reason and result.quarantined == 1
    assert spool.backlog().total == 0


def test_redelivered_record_is_acked_without_sending_again(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    record = stats_record()
    spool.write([record])
    sink = ScriptedSink()
    agent = Agent(make_config(spool_name), sink)
    agent.run(until_empty=True)
    spool.write([record])
    result = agent.run(until_empty=True)
    assert sink.accepted == [record.id]
    assert result.duplicates == 1 and spool.backlog().total == 0


def test_dry_run_sends_nothing_and_gives_every_record_back(spool_name: str) -> None:
    spool = MemorySpool(spool_name)
    spool.write([stats_record() for _ in range(4)])
    spool.write_raw(b"garbage")
    with Agent(make_config(spool_name, dry_run=True)) as agent:
        result = agent.run(until_empty=True)
    assert result.records_sent == 4 and result.requests == 1
    assert spool.backlog().visible == 5 and list(spool.quarantined()) == []


def test_deadline_stops_reading_and_the_run_returns(spool_name: str) -> None:
    MemorySpool(spool_name).write([stats_record()])
    end = time.monotonic() + 0.5
    result = Agent(make_config(spool_name), ScriptedSink()).run(
        deadline=lambda: end - time.monotonic(), deadline_margin=0.2
    )
    assert result.stopped_by == "deadline" and result.records_sent == 1
    assert result.exit_code == 0


def test_stop_from_another_thread_is_graceful_and_exit_code_130(spool_name: str) -> None:
    agent = Agent(make_config(spool_name), ScriptedSink())
    threading.Timer(0.2, agent.stop).start()
    result = agent.run()
    assert result.stopped_by == "signal" and result.exit_code == 130


def test_slow_channel_does_not_stall_the_others() -> None:
    MemorySpool.reset("slow")
    MemorySpool.reset("fast")
    release = threading.Event()

    class SlowForOne(ScriptedSink):
        def send(self, records: Sequence[Record]) -> SendResult:
            if records[0].deployment_id == "slow":
                release.wait(5)
            return super().send(records)

    MemorySpool("slow").write([stats_record("slow")])
    fast = [stats_record("fast") for _ in range(20)]
    MemorySpool("fast").write(fast)
    sink = SlowForOne()
    agent = Agent(make_config("slow", "fast"), sink)
    runner = threading.Thread(target=agent.run, kwargs={"until_empty": True})
    runner.start()
    deadline = time.monotonic() + 3
    while len(sink.accepted) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.accepted == [r.id for r in fast]
    release.set()
    runner.join(5)
    assert MemorySpool("slow").backlog().total == 0


def test_reader_reopens_the_spool_after_it_became_unavailable(spool_name: str) -> None:
    MemorySpool(spool_name).write([stats_record()])
    attempts = []

    def flaky_open(address: str, **options: Any) -> Spool:
        attempts.append(address)
        if len(attempts) == 1:
            raise SpoolUnavailable("broker down")
        return open_spool(address, **options)

    result = Agent(make_config(spool_name), ScriptedSink(), open_spool=flaky_open).run(
        until_empty=True
    )
    assert len(attempts) == 2 and result.records_sent == 1
    assert result.failures == {"spool": 1}


def test_channel_that_cannot_be_configured_gives_exit_code_2() -> None:
    config = AgentConfig(
        target=TargetConfig(url="http://127.0.0.1:9"),
        channels=[ChannelConfig(name="bad", address="nope://x")],
    )
    result = Agent(config, ScriptedSink()).run(until_empty=True)
    assert result.exit_code == 2 and "nope://x" in result.channel_errors["bad"]


def test_heartbeat_carries_counts_and_backlog(spool_name: str) -> None:
    MemorySpool(spool_name).write([stats_record()])
    sink = ScriptedSink()
    Agent(make_config(spool_name, heartbeat=True, agent_id="a-1"), sink, rng=random.Random(1)).run(
        until_empty=True
    )
    assert sink.beats and sink.beats[0]["agentId"] == "a-1"
    assert set(sink.beats[0]["backlog"]) == {spool_name}


def test_visibility_is_extended_while_waiting_to_retry(spool_name: str) -> None:
    extended: list[tuple[int, float]] = []

    class Recording(MemorySpool):
        def extend(self, deliveries: Sequence[Any], seconds: float) -> None:
            extended.append((len(deliveries), seconds))

    Recording(spool_name).write([stats_record() for _ in range(3)])
    result = Agent(
        make_config(spool_name),
        ScriptedSink(fail_times=2),
        open_spool=lambda address, **options: Recording(spool_name),
    ).run(until_empty=True)
    assert [count for count, _ in extended] == [3, 3] and all(s > 0 for _, s in extended)
    assert result.records_sent == 3


def test_last_heartbeat_says_stopped_with_the_final_counts(spool_name: str) -> None:
    MemorySpool(spool_name).write([stats_record() for _ in range(7)])
    sink = ScriptedSink()
    config = make_config(spool_name, heartbeat=True, agent_id="a-1", heartbeat_interval_seconds=60)
    Agent(config, sink, rng=random.Random(1)).run(until_empty=True)
    # The first beat goes out at the start, before anything is sent; the last one at the end.
    assert len(sink.beats) >= 2 and sink.beats[0]["state"] == "running"
    last = sink.beats[-1]
    assert last["state"] == "stopped" and last["stoppedBy"] == "empty"
    assert last["sent"] == 7 and last["quarantined"] == 0


def test_no_last_heartbeat_when_the_destination_takes_none(spool_name: str) -> None:
    class NoHeartbeats(ScriptedSink):
        def heartbeat(self, status: dict[str, Any]) -> bool:
            self.beats.append(status)
            return False

    MemorySpool(spool_name).write([stats_record()])
    sink = NoHeartbeats()
    Agent(make_config(spool_name, heartbeat=True), sink).run(until_empty=True)
    assert [beat["state"] for beat in sink.beats] == ["running"]


def test_no_heartbeat_at_all_when_heartbeats_are_off(spool_name: str) -> None:
    MemorySpool(spool_name).write([stats_record()])
    sink = ScriptedSink()
    Agent(make_config(spool_name, heartbeat=False), sink).run(until_empty=True)
    assert sink.beats == []


def test_failing_stats_callback_stops_the_readers_instead_of_hanging(spool_name: str) -> None:
    MemorySpool(spool_name).write([stats_record(n=i) for i in range(3)])

    def broken(snapshot: object) -> None:
        raise RuntimeError("the display broke")

    sink = ScriptedSink()
    agent = Agent(make_config(spool_name), sink, on_stats=broken)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            agent.run()
        except RuntimeError as exc:
            raised.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(10)
    assert not runner.is_alive(), "run() kept waiting for readers nobody told to stop"
    assert [str(exc) for exc in raised] == ["the display broke"]
    # Every record was delivered or is still in the spool.
    assert len(sink.accepted) + MemorySpool(spool_name).backlog().total == 3


def test_second_copy_in_one_read_is_acked_only_after_the_first_was_accepted(
    spool_name: str,
) -> None:
    spool = MemorySpool(spool_name)
    record = stats_record()
    spool.write([record, record])  # at-least-once: one record handed out twice
    sink = ScriptedSink()
    result = Agent(make_config(spool_name), sink).run(until_empty=True)
    assert sink.accepted == [record.id]
    assert result.duplicates == 1 and spool.backlog().total == 0


def test_second_copy_in_one_read_is_given_back_when_the_first_was_not_accepted(
    spool_name: str,
) -> None:
    spool = MemorySpool(spool_name)
    record = stats_record()
    spool.write([record, record])
    sink = ScriptedSink(always_fail=True)
    config = make_config(
        spool_name,
        retry=RetryConfig(initial_seconds=0.01, max_seconds=0.02, shutdown_grace_seconds=0.05),
    )
    result = Agent(config, sink).run(until_empty=True, max_seconds=0.3)
    assert sink.accepted == []
    assert result.duplicates == 0
    assert spool.backlog().total == 2  # neither copy was acked


def test_an_idle_read_never_runs_past_the_deadline(spool_name: str) -> None:
    MemorySpool(spool_name)  # empty
    config = make_config(spool_name, batching=BatchingConfig(max_records=50, wait_seconds=30))
    end = time.monotonic() + 1.5
    result = Agent(config, ScriptedSink()).run(
        until_empty=True, deadline=lambda: end - time.monotonic(), deadline_margin=1.0
    )
    assert result.stopped_by == "deadline"
    assert result.elapsed < 1.5  # it stopped before the deadline, not after a 30 s read
