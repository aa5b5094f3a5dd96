"""The modelled SQS queue, the age histogram and the cost ledger of the simulator."""

from __future__ import annotations

import pytest
import simpy

from spoolwatch.sim.costs import CostLedger, Prices
from spoolwatch.sim.sqs import AgeHistogram, SimQueue


def _queue(**options: object) -> tuple[simpy.Environment, SimQueue]:
    env = simpy.Environment()
    return env, SimQueue(env, **options)  # type: ignore[arg-type]


def _advance(env: simpy.Environment, seconds: float) -> None:
    env.run(until=env.now + seconds)


def test_receive_takes_at_most_what_was_asked_and_counts_in_flight() -> None:
    _env, queue = _queue()
    queue.add(25)
    batch = queue.receive(10, visibility=30)
    assert batch is not None and batch.count == 10
    assert (queue.visible_count, queue.in_flight_count) == (15, 10)


def test_records_not_deleted_come_back_at_the_head_after_the_visibility_timeout() -> None:
    env, queue = _queue()
    queue.add(5)
    _advance(env, 1)
    queue.add(5)
    first = queue.receive(5, visibility=30)
    assert first is not None
    _advance(env, 31)
    again = queue.receive(5, visibility=30)
    assert again is not None
    assert again.cohorts[0][0] == 0.0  # the earlier records, received a second time
    assert again.receives == 2


def test_records_received_max_receive_count_times_go_to_the_dead_letter_queue() -> None:
    env, queue = _queue(max_receive_count=2)
    queue.add(7)
    for _ in range(2):
        assert queue.receive(10, visibility=10) is not None
        _advance(env, 11)
    assert queue.receive(10, visibility=10) is None
    assert queue.lost == 7
    assert queue.backlog() == 0


def test_a_record_sent_again_after_its_visibility_expired_counts_as_a_duplicate() -> None:
    env, queue = _queue()
    queue.add(4)
    batch = queue.receive(10, visibility=10)
    assert batch is not None
    queue.mark_sent(batch)  # the destination took it, the delete never came
    _advance(env, 11)
    again = queue.receive(10, visibility=10)
    assert again is not None
    queue.mark_sent(again)
    assert queue.delete(again)
    assert queue.duplicates == 4
    assert queue.acked == 4


def test_a_failed_send_redelivered_is_not_a_duplicate() -> None:
    env, queue = _queue()
    queue.add(4)
    assert queue.receive(10, visibility=10) is not None
    _advance(env, 11)
    again = queue.receive(10, visibility=10)
    assert again is not None
    queue.mark_sent(again)
    assert queue.duplicates == 0


def test_the_records_the_destination_has_split_off_and_the_rest_come_back_alone() -> None:
    env, queue = _queue()
    queue.add(4)
    crashed = queue.receive(10, visibility=10)
    assert crashed is not None
    queue.mark_sent(crashed)  # accepted, never deleted
    _advance(env, 1)
    queue.add(6)
    _advance(env, 10)
    mixed = queue.receive(10, visibility=10)  # the 4 again and 6 new
    assert mixed is not None and (mixed.count, mixed.receives) == (10, 2)
    known = queue.split_known(mixed)
    assert known is not None and known is not mixed
    assert (known.count, mixed.count) == (4, 6)
    assert queue.delete(known)
    assert (queue.in_flight_count, queue.acked, queue.duplicates) == (6, 4, 0)
    _advance(env, 11)  # the rest, not deleted, comes back without the known 4
    queue.expire()
    assert (queue.visible_count, queue.in_flight_count) == (6, 0)
    again = queue.receive(10, visibility=10)
    assert again is not None and queue.split_known(again) is None


def test_a_batch_the_destination_has_entirely_is_split_off_whole() -> None:
    env, queue = _queue()
    queue.add(5)
    crashed = queue.receive(10, visibility=10)
    assert crashed is not None
    queue.mark_sent(crashed)
    _advance(env, 11)
    again = queue.receive(10, visibility=10)
    assert again is not None
    assert queue.split_known(again) is again
    assert queue.delete(again)
    assert (queue.acked, queue.duplicates, queue.backlog()) == (5, 0, 0)


def test_delete_after_the_visibility_expired_is_refused() -> None:
    env, queue = _queue()
    queue.add(3)
    batch = queue.receive(10, visibility=5)
    assert batch is not None
    _advance(env, 6)
    assert not queue.delete(batch)
    assert queue.visible_count == 3


def test_extend_keeps_records_invisible_past_the_first_deadline() -> None:
    env, queue = _queue()
    queue.add(3)
    batch = queue.receive(10, visibility=5)
    assert batch is not None
    _advance(env, 4)
    queue.extend(batch, 100)
    _advance(env, 10)
    assert queue.receive(10, visibility=5) is None
    assert queue.delete(batch)


def test_approximate_counts_lag_the_truth() -> None:
    env, queue = _queue(approx_lag=60)
    queue.snapshot()
    queue.add(1000)
    _advance(env, 10)
    queue.snapshot()
    assert queue.approx() == (0, 0)
    _advance(env, 60)
    assert queue.approx() == (1000, 0)


def test_receives_stop_at_the_in_flight_limit() -> None:
    _env, queue = _queue(in_flight_limit=100)
    queue.add(500)
    first = queue.receive(80, visibility=30)
    second = queue.receive(80, visibility=30)
    assert first is not None and second is not None
    assert second.count == 20
    assert queue.receive(80, visibility=30) is None


def test_age_histogram_percentiles_are_within_one_percent() -> None:
    ages = AgeHistogram()
    ages.add(1.0, 50)
    ages.add(10.0, 45)
    ages.add(100.0, 5)
    assert ages.percentile(50) == pytest.approx(1.0, rel=0.011)
    assert ages.percentile(95) == pytest.approx(10.0, rel=0.011)
    assert ages.percentile(99) == pytest.approx(100.0, rel=0.011)
    assert AgeHistogram().percentile(50) is None


def test_ledger_bills_sqs_per_64kb_chunk_and_lambda_per_gb_second() -> None:
    ledger = CostLedger(Prices(), record_bytes=32_768, architecture="arm64")
    ledger.sqs_call(records=10, calls=1)  # 320 KB: 5 chunks
    ledger.sqs_call()  # an empty receive is a request too
    assert ledger.sqs_requests == 6
    ledger.lambda_run(2.0, 0.5, invocations=3)
    costs = ledger.breakdown()
    assert costs["compute"] == pytest.approx(3 * 2.0 * 0.5 * 0.0000133334)
    assert costs["requests"] == pytest.approx(3 * 0.20 / 1e6)
    assert costs["sqs"] == pytest.approx(6 * 0.40 / 1e6)
    x86 = CostLedger(Prices(), record_bytes=1024, architecture="x86_64")
    x86.lambda_run(1.0, 1.0)
    assert x86.breakdown()["compute"] == pytest.approx(0.0000166667)
