"""Lease slots over the in-memory store: claims, races, expiry, renewal, release."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from spoolwatch.errors import ConfigError
from spoolwatch.scaling import (
    LeaseHeartbeat,
    LeaseTable,
    ManualClock,
    MemoryLeaseStore,
    ScalingSettings,
)


def table(slots: int = 3, lease_seconds: float = 60.0) -> tuple[LeaseTable, ManualClock]:
    clock = ManualClock(1_000.0)
    return LeaseTable(
        MemoryLeaseStore(), slots=slots, lease_seconds=lease_seconds, clock=clock
    ), clock


def test_acquire_gives_distinct_slots_until_all_are_held() -> None:
    leases, _ = table(slots=3)
    got = [leases.acquire(f"agent-{i}") for i in range(3)]
    assert all(g is not None for g in got)
    assert sorted(g.slot for g in got if g is not None) == [0, 1, 2]
    assert leases.acquire("agent-3") is None
    assert leases.count_running() == 3


def test_acquire_starts_at_the_holders_own_slot() -> None:
    leases, _ = table(slots=7)
    for name in ("a", "b", "lambda-request-1234"):
        lease = leases.acquire(name)
        assert lease is not None
        assert lease.slot == leases.start_slot(name)
        leases.release(lease)


def test_lease_expires_at_now_plus_lease_seconds() -> None:
    leases, clock = table(lease_seconds=45)
    lease = leases.acquire("a")
    assert lease is not None
    assert lease.acquired_at == clock.now()
    assert lease.expires_at == clock.now() + 45


def test_crashed_holders_slot_is_reclaimed_after_expiry() -> None:
    leases, clock = table(slots=1, lease_seconds=60)
    crashed = leases.acquire("crashed")
    assert crashed is not None
    clock.advance(60)  # exactly at expiry the lease still holds
    assert leases.acquire("newcomer") is None
    assert leases.count_running() == 1
    clock.advance(0.001)
    assert leases.count_running() == 0
    taken = leases.acquire("newcomer")
    assert taken is not None and taken.slot == crashed.slot
    assert leases.renew(crashed) is None
    assert leases.release(crashed) is False
    assert [lease.holder for lease in leases.running()] == ["newcomer"]


def test_heartbeat_renewal_keeps_the_slot_past_its_first_expiry() -> None:
    leases, clock = table(slots=1, lease_seconds=30)
    lease = leases.acquire("worker")
    assert lease is not None
    for _ in range(5):
        clock.advance(20)
        renewed = leases.renew(lease)
        assert renewed is not None
        lease = renewed
    assert lease.expires_at == clock.now() + 30
    assert leases.acquire("other") is None


def test_release_frees_the_slot_at_once() -> None:
    leases, _ = table(slots=1)
    lease = leases.acquire("a")
    assert lease is not None
    assert leases.release(lease) is True
    assert leases.count_running() == 0
    assert leases.acquire("b") is not None


def test_store_reports_the_current_holder_when_a_claim_loses() -> None:
    store = MemoryLeaseStore()
    assert store.try_claim(0, "first", 10.0, 70.0).won
    lost = store.try_claim(0, "second", 20.0, 80.0)
    assert not lost.won
    assert lost.current_holder == "first"
    assert lost.current is not None and lost.current.expires_at == 70.0


def test_same_holder_acquiring_again_gets_its_lease_back_renewed() -> None:
    leases, clock = table(slots=3)
    first = leases.acquire("retry")
    clock.advance(10)
    again = leases.acquire("retry")
    assert first is not None and again is not None
    assert again.slot == first.slot
    assert again.expires_at == clock.now() + 60
    assert leases.count_running() == 1


def test_slots_beyond_a_reduced_target_are_not_counted() -> None:
    store = MemoryLeaseStore()
    clock = ManualClock(0.0)
    big = LeaseTable(store, slots=5, lease_seconds=60, clock=clock)
    for i in range(5):
        assert big.acquire(f"h{i}") is not None
    small = LeaseTable(store, slots=2, lease_seconds=60, clock=clock)
    assert small.count_running() == 2
    assert small.acquire("late") is None


def test_threads_hammering_the_store_never_exceed_the_slots() -> None:
    slots = 4
    store = MemoryLeaseStore()
    clock = ManualClock(0.0)
    leases = LeaseTable(store, slots=slots, lease_seconds=60, clock=clock)
    holders: Counter[int] = Counter()
    peak = 0
    lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def worker(n: int) -> None:
        nonlocal peak
        try:
            barrier.wait()
            for i in range(200):
                lease = leases.acquire(f"w{n}-{i}")
                if lease is None:
                    continue
                with lock:
                    holders[lease.slot] += 1
                    assert holders[lease.slot] == 1, "two holders of one slot"
                    peak = max(peak, sum(holders.values()))
                with lock:
                    holders[lease.slot] -= 1
                assert leases.release(lease)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert 1 <= peak <= slots
    assert leases.count_running() == 0


def test_threads_claiming_once_win_exactly_the_number_of_slots() -> None:
    leases, _ = table(slots=5)
    won: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def claim(n: int) -> None:
        barrier.wait()
        lease = leases.acquire(f"c{n}")
        if lease is not None:
            with lock:
                won.append(lease.slot)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [0, 1, 2, 3, 4]


def test_lease_table_from_settings_uses_target_concurrency() -> None:
    settings = ScalingSettings(target_concurrency=6, lease_seconds=30)
    leases = LeaseTable.from_settings(MemoryLeaseStore(), settings, ManualClock())
    assert (leases.slots, leases.lease_seconds) == (6, 30.0)


@pytest.mark.parametrize(("slots", "lease_seconds"), [(0, 10), (2, 0), (True, 10)])
def test_lease_table_rejects_bad_arguments(slots: int, lease_seconds: float) -> None:
    with pytest.raises(ConfigError):
        LeaseTable(
            MemoryLeaseStore(), slots=slots, lease_seconds=lease_seconds, clock=ManualClock()
        )


def test_acquire_rejects_an_empty_holder() -> None:
    leases, _ = table()
    with pytest.raises(ConfigError, match="holder"):
        leases.acquire("")


def test_heartbeat_renews_until_stopped() -> None:
    leases, clock = table(slots=1, lease_seconds=30)
    lease = leases.acquire("beating")
    assert lease is not None
    with LeaseHeartbeat(leases, lease, interval=0.01) as beat:
        clock.advance(25)
        deadline = time.monotonic() + 5
        while beat.lease.expires_at != clock.now() + 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert beat.lease.expires_at == clock.now() + 30
    clock.advance(40)  # no renewal after stop: the lease now expires
    assert leases.count_running() == 0
    assert not beat.lost.is_set()


def test_heartbeat_reports_a_lost_lease() -> None:
    leases, clock = table(slots=1, lease_seconds=30)
    lease = leases.acquire("slow")
    assert lease is not None
    clock.advance(31)
    assert leases.acquire("thief") is not None
    with LeaseHeartbeat(leases, lease, interval=0.01) as beat:
        assert beat.lost.wait(5)
    assert [lease.holder for lease in leases.running()] == ["thief"]
