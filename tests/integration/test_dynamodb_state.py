"""Lease slots and the circuit breaker on DynamoDB (moto's server mode)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.scaling import (
    BreakerState,
    CircuitBreaker,
    FailureKind,
    LeaseTable,
    ManualClock,
    ScalingSettings,
)
from spoolwatch.serverless.dynamodb import (
    TTL_ATTRIBUTE,
    DynamoBreakerStore,
    DynamoLeaseStore,
    create_table,
)

pytestmark = pytest.mark.aws

SETTINGS = ScalingSettings(
    target_concurrency=3,
    lease_seconds=60,
    failure_threshold=3,
    failure_window_seconds=60,
    base_cooldown_seconds=100,
    probe_timeout_seconds=300,
)


@pytest.fixture(scope="module")
def dynamodb(moto_server: str) -> Any:
    return boto3.client("dynamodb")


@pytest.fixture
def table(dynamodb: Any) -> Iterator[str]:
    name = f"spoolwatch-state-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb, name)
    yield name
    dynamodb.delete_table(TableName=name)


def leases_on(dynamodb: Any, table: str, clock: ManualClock, slots: int = 3) -> LeaseTable:
    return LeaseTable(DynamoLeaseStore(dynamodb, table), slots=slots, lease_seconds=60, clock=clock)


def test_created_table_is_on_demand_with_pk_sk_and_ttl(dynamodb: Any, table: str) -> None:
    described = dynamodb.describe_table(TableName=table)["Table"]
    keys = {k["AttributeName"]: k["KeyType"] for k in described["KeySchema"]}
    assert keys == {"pk": "HASH", "sk": "RANGE"}
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TTL_ATTRIBUTE
    assert ttl["TimeToLiveStatus"] == "ENABLED"


def test_creating_an_existing_table_is_a_config_error(dynamodb: Any, table: str) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        create_table(dynamodb, table)


def test_second_claimer_loses_and_learns_the_holder(dynamodb: Any, table: str) -> None:
    store = DynamoLeaseStore(dynamodb, table)
    assert store.try_claim(0, "first", 1000.0, 1060.0).won
    lost = store.try_claim(0, "second", 1010.0, 1070.0)
    assert not lost.won
    assert lost.current_holder == "first"
    assert lost.current is not None and lost.current.expires_at == 1060.0
    assert [lease.holder for lease in store.read_all(3)] == ["first"]


def test_claims_fill_every_slot_then_refuse(dynamodb: Any, table: str) -> None:
    leases = leases_on(dynamodb, table, ManualClock(1000.0))
    got = [leases.acquire(f"agent-{i}") for i in range(3)]
    assert sorted(g.slot for g in got if g is not None) == [0, 1, 2]
    assert leases.acquire("agent-3") is None
    assert leases.count_running() == 3


def test_expired_lease_is_reclaimed_and_the_crashed_holder_has_lost_it(
    dynamodb: Any, table: str
) -> None:
    clock = ManualClock(1000.0)
    leases = leases_on(dynamodb, table, clock, slots=1)
    crashed = leases.acquire("crashed")
    assert crashed is not None
    clock.advance(30)
    assert leases.acquire("early") is None
    clock.advance(31)
    assert leases.count_running() == 0
    newcomer = leases.acquire("newcomer")
    assert newcomer is not None and newcomer.slot == crashed.slot
    assert leases.renew(crashed) is None
    assert leases.release(crashed) is False
    assert [lease.holder for lease in leases.running()] == ["newcomer"]


def test_renewal_and_release_on_dynamodb(dynamodb: Any, table: str) -> None:
    clock = ManualClock(1000.0)
    leases = leases_on(dynamodb, table, clock, slots=1)
    lease = leases.acquire("worker")
    assert lease is not None
    clock.advance(50)
    renewed = leases.renew(lease)
    assert renewed is not None and renewed.expires_at == clock.now() + 60
    clock.advance(50)  # past the first expiry, within the renewed one
    assert leases.acquire("other") is None
    assert leases.release(renewed) is True
    assert leases.count_running() == 0
    items = dynamodb.scan(TableName=table)["Items"]
    assert items == []


def test_lease_items_carry_an_integer_ttl(dynamodb: Any, table: str) -> None:
    store = DynamoLeaseStore(dynamodb, table, pool="ttl")
    assert store.try_claim(2, "h", 1000.0, 1060.5).won
    item = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": "lease#ttl"}, "sk": {"S": "slot#0002"}}
    )["Item"]
    assert int(item[TTL_ATTRIBUTE]["N"]) == 1061 + 3600


def test_pools_do_not_share_slots(dynamodb: Any, table: str) -> None:
    clock = ManualClock(1000.0)
    a = LeaseTable(
        DynamoLeaseStore(dynamodb, table, pool="a"), slots=1, lease_seconds=60, clock=clock
    )
    b = LeaseTable(
        DynamoLeaseStore(dynamodb, table, pool="b"), slots=1, lease_seconds=60, clock=clock
    )
    assert a.acquire("x") is not None
    assert b.acquire("y") is not None


def test_concurrent_claims_from_threads_never_exceed_the_slots(dynamodb: Any, table: str) -> None:
    clock = ManualClock(1000.0)
    won: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def claim(n: int) -> None:
        # Each thread builds its own client from its own session, as separate Lambdas would
        # (boto3's default session is not safe to create clients from concurrently).
        leases = leases_on(boto3.session.Session().client("dynamodb"), table, clock)
        try:
            barrier.wait()
            lease = leases.acquire(f"agent-{n}")
            if lease is not None:
                with lock:
                    won.append(lease.slot)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(won) == [0, 1, 2]
    assert leases_on(dynamodb, table, clock).count_running() == 3


def test_breaker_state_persists_across_two_breaker_objects(dynamodb: Any, table: str) -> None:
    clock = ManualClock(5000.0)
    first = CircuitBreaker(DynamoBreakerStore(dynamodb, table), SETTINGS, clock)
    second = CircuitBreaker(DynamoBreakerStore(dynamodb, table), SETTINGS, clock)
    first.record_failure(None, "connection refused", FailureKind.DESTINATION_UNREACHABLE)
    first.record_failure(None, "HTTP 502", FailureKind.SERVER_ERROR)
    assert second.state() is BreakerState.CLOSED
    assert second.record_failure(None, "HTTP 401", FailureKind.AUTH_ERROR) is BreakerState.OPEN
    assert first.state() is BreakerState.OPEN
    assert "HTTP 401" in first.status().reason
    clock.advance(100)
    probe = first.allow(holder="probe")
    assert (probe.allowed, probe.probe) == (True, True)
    refused = second.allow(holder="late")
    assert (refused.allowed, refused.probe_holder) == (False, "probe")
    assert second.record_success(None, probe=True) is BreakerState.CLOSED
    assert first.allow().allowed


def test_breaker_failures_are_stored_with_reason_kind_and_ttl(dynamodb: Any, table: str) -> None:
    clock = ManualClock(5000.0)
    breaker = CircuitBreaker(DynamoBreakerStore(dynamodb, table, name="ttl"), SETTINGS, clock)
    breaker.record_failure(None, "HTTP 503", FailureKind.SERVER_ERROR)
    breaker.record_failure(None, "bad record", FailureKind.POISON_RECORD)
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "breaker#ttl"}},
    )["Items"]
    assert len(items) == 1
    item = items[0]
    assert (item["kind"]["S"], item["reason"]["S"]) == ("server_error", "HTTP 503")
    assert int(item[TTL_ATTRIBUTE]["N"]) == 5000 + int(SETTINGS.failure_ttl_seconds)


def test_breaker_failures_outside_the_window_do_not_open_it(dynamodb: Any, table: str) -> None:
    clock = ManualClock(5000.0)
    breaker = CircuitBreaker(DynamoBreakerStore(dynamodb, table), SETTINGS, clock)
    for _ in range(6):
        assert breaker.record_failure(None, "timeout") is BreakerState.CLOSED
        clock.advance(31)
    assert breaker.status().failures_in_window == 1


def test_stale_breaker_write_is_refused(dynamodb: Any, table: str) -> None:
    store = DynamoBreakerStore(dynamodb, table)
    first = store.read_state()
    assert first.version == 0
    assert store.write_state(replace(first, version=1, reason="a"), 0)
    assert not store.write_state(replace(first, version=1, reason="b"), 0)
    current = store.read_state()
    assert (current.version, current.reason) == (1, "a")
    assert store.write_state(replace(current, version=2, reason="c"), 1)
    assert not store.write_state(replace(current, version=2, reason="d"), 1)


def test_only_one_thread_becomes_the_probe_on_dynamodb(dynamodb: Any, table: str) -> None:
    clock = ManualClock(5000.0)
    opener = CircuitBreaker(DynamoBreakerStore(dynamodb, table), SETTINGS, clock)
    for _ in range(3):
        opener.record_failure(None, "down", FailureKind.DESTINATION_UNREACHABLE)
    clock.advance(100)
    probes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def call(n: int) -> None:
        breaker = CircuitBreaker(
            DynamoBreakerStore(boto3.session.Session().client("dynamodb"), table), SETTINGS, clock
        )
        barrier.wait()
        if breaker.allow(holder=f"a{n}").allowed:
            with lock:
                probes.append(n)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(probes) == 1


def test_missing_table_is_a_config_error(dynamodb: Any) -> None:
    store = DynamoLeaseStore(dynamodb, "no-such-table")
    with pytest.raises(ConfigError, match="no-such-table"):
        store.read_all(3)


def test_the_learned_ceiling_round_trips_and_expires_by_ttl(dynamodb: Any, table: str) -> None:
    from spoolwatch.scaling.ceiling import LearnedCeiling
    from spoolwatch.serverless.dynamodb import DynamoCeilingStore

    store = DynamoCeilingStore(dynamodb, table)
    assert store.read() is None
    store.write(LearnedCeiling(12, 1_800_000_000.5))
    assert store.read() == LearnedCeiling(12, 1_800_000_000.5)
    store.write(LearnedCeiling(5, 1_800_000_300.0))  # the last write wins
    assert store.read() == LearnedCeiling(5, 1_800_000_300.0)
    item = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": "ceiling#default"}, "sk": {"S": "state"}}
    )
    assert int(item["Item"][TTL_ATTRIBUTE]["N"]) == 1_800_000_300 + 86_400
    # Leases and the breaker share the table and do not see it.
    assert DynamoCeilingStore(dynamodb, table, name="other").read() is None
    with pytest.raises(ConfigError, match="name"):
        DynamoCeilingStore(dynamodb, table, name="")
