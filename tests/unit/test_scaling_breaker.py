"""Circuit breaker transitions over the in-memory store, driven by a manual clock."""

from __future__ import annotations

import threading

import pytest

from spoolwatch.errors import (
    ConfigError,
    DecodeError,
    DestinationUnavailable,
    RejectedRecord,
    SpoolUnavailable,
)
from spoolwatch.scaling import (
    BreakerRecord,
    BreakerState,
    CircuitBreaker,
    FailureKind,
    ManualClock,
    MemoryBreakerStore,
    ScalingSettings,
    failure_kind_of,
)

SETTINGS = ScalingSettings(
    target_concurrency=5,
    failure_threshold=3,
    failure_window_seconds=60,
    base_cooldown_seconds=100,
    max_cooldown_seconds=3600,
    probe_timeout_seconds=300,
)
UNREACHABLE = FailureKind.DESTINATION_UNREACHABLE


def breaker(store: MemoryBreakerStore | None = None) -> tuple[CircuitBreaker, ManualClock]:
    clock = ManualClock(10_000.0)
    return CircuitBreaker(store or MemoryBreakerStore(), SETTINGS, clock), clock


def fail(cb: CircuitBreaker, times: int, kind: FailureKind = UNREACHABLE) -> BreakerState:
    state = BreakerState.CLOSED
    for i in range(times):
        state = cb.record_failure(None, f"connection refused #{i}", kind)
    return state


def open_breaker(cb: CircuitBreaker) -> None:
    assert fail(cb, SETTINGS.failure_threshold) is BreakerState.OPEN


def test_new_breaker_is_closed_and_allows_agents() -> None:
    cb, _ = breaker()
    decision = cb.allow()
    assert (decision.allowed, decision.probe, decision.state) == (True, False, BreakerState.CLOSED)


def test_breaker_opens_after_threshold_failures_within_the_window() -> None:
    cb, clock = breaker()
    assert fail(cb, 2) is BreakerState.CLOSED
    clock.advance(30)
    assert cb.record_failure(None, "HTTP 503", FailureKind.SERVER_ERROR) is BreakerState.OPEN
    decision = cb.allow()
    assert decision.allowed is False
    assert decision.state is BreakerState.OPEN
    assert decision.reopens_at == clock.now() + SETTINGS.base_cooldown_seconds
    assert "HTTP 503" in cb.status().reason


def test_failures_spread_beyond_the_window_do_not_open_it() -> None:
    cb, clock = breaker()
    seen = []
    for _ in range(10):
        assert cb.record_failure(None, "timeout", UNREACHABLE) is BreakerState.CLOSED
        seen.append(cb.status().failures_in_window)
        clock.advance(31)  # at most two failures ever fall within 60 s
    assert seen == [1] + [2] * 9


@pytest.mark.parametrize("kind", [FailureKind.POISON_RECORD, FailureKind.QUARANTINED])
def test_poison_and_quarantine_failures_are_not_counted(kind: FailureKind) -> None:
    cb, _ = breaker()
    assert fail(cb, 10, kind) is BreakerState.CLOSED
    assert cb.status().failures_in_window == 0
    assert cb.allow().allowed


def test_breaker_half_opens_after_the_cooldown_and_lets_one_probe_through() -> None:
    cb, clock = breaker()
    open_breaker(cb)
    clock.advance(SETTINGS.base_cooldown_seconds - 1)
    assert cb.state() is BreakerState.OPEN
    clock.advance(1)
    assert cb.state() is BreakerState.HALF_OPEN
    probe = cb.allow(holder="probe-1")
    assert (probe.allowed, probe.probe, probe.probe_holder) == (True, True, "probe-1")
    second = cb.allow(holder="probe-2")
    assert (second.allowed, second.probe) == (False, False)
    assert second.probe_holder == "probe-1"


def test_only_one_of_many_concurrent_callers_becomes_the_probe() -> None:
    cb, clock = breaker()
    open_breaker(cb)
    clock.advance(SETTINGS.base_cooldown_seconds)
    probes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def call(n: int) -> None:
        barrier.wait()
        decision = cb.allow(holder=f"agent-{n}")
        if decision.allowed:
            with lock:
                probes.append(f"agent-{n}")

    threads = [threading.Thread(target=call, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(probes) == 1
    assert cb.status().probe_holder == probes[0]


def test_probe_success_closes_the_breaker_and_old_failures_stop_counting() -> None:
    cb, clock = breaker()
    open_breaker(cb)
    clock.advance(SETTINGS.base_cooldown_seconds)
    assert cb.allow().probe
    assert cb.record_success(None, probe=True) is BreakerState.CLOSED
    assert cb.allow().allowed
    # The failures that opened it are still within the window, yet no longer count.
    assert cb.status().failures_in_window == 0
    assert fail(cb, SETTINGS.failure_threshold - 1) is BreakerState.CLOSED


def test_failed_probe_reopens_with_the_cooldown_doubled_up_to_an_hour() -> None:
    cb, clock = breaker()
    open_breaker(cb)
    cooldowns = []
    for _ in range(8):
        clock.advance(cb.status().cooldown_seconds)
        assert cb.allow().probe
        assert cb.record_failure(None, "still down", UNREACHABLE) is BreakerState.OPEN
        cooldowns.append(cb.status().cooldown_seconds)
    assert cooldowns == [200, 400, 800, 1600, 3200, 3600, 3600, 3600]


def test_success_resets_the_cooldown_for_the_next_opening() -> None:
    cb, clock = breaker()
    open_breaker(cb)
    clock.advance(100)
    cb.allow()
    cb.record_failure(None, "down", UNREACHABLE)
    clock.advance(200)
    cb.allow()
    cb.record_success(None, probe=True)
    clock.advance(1000)
    open_breaker(cb)
    assert cb.status().cooldown_seconds == SETTINGS.base_cooldown_seconds


def test_non_probe_success_changes_nothing() -> None:
    store = MemoryBreakerStore()
    cb, clock = breaker(store)
    open_breaker(cb)
    version = store.read_state().version
    clock.advance(SETTINGS.base_cooldown_seconds)
    assert cb.record_success(None, probe=False) is BreakerState.HALF_OPEN
    assert store.read_state().version == version


def test_unreported_probe_claim_expires_and_a_new_probe_goes_through() -> None:
    cb, clock = breaker()
    open_breaker(cb)
    clock.advance(SETTINGS.base_cooldown_seconds)
    assert cb.allow(holder="crashed-probe").probe
    clock.advance(SETTINGS.probe_timeout_seconds)
    assert not cb.allow(holder="next").allowed
    clock.advance(1)
    nxt = cb.allow(holder="next")
    assert (nxt.allowed, nxt.probe) == (True, True)


def test_failures_while_open_are_recorded_but_do_not_extend_the_cooldown() -> None:
    cb, clock = breaker()
    open_breaker(cb)
    opened = cb.status().reopens_at
    clock.advance(10)
    assert fail(cb, 5) is BreakerState.OPEN
    assert cb.status().reopens_at == opened


def test_two_breaker_objects_share_state_through_the_store() -> None:
    store = MemoryBreakerStore()
    first, clock = breaker(store)
    second = CircuitBreaker(store, SETTINGS, clock)
    fail(first, 2)
    assert second.record_failure(None, "boom", UNREACHABLE) is BreakerState.OPEN
    assert first.state() is BreakerState.OPEN


def test_concurrent_failures_from_threads_keep_the_version_consistent() -> None:
    store = MemoryBreakerStore()
    cb, _ = breaker(store)
    barrier = threading.Barrier(8)

    def report() -> None:
        barrier.wait()
        for _ in range(5):
            cb.record_failure(None, "down", UNREACHABLE)

    threads = [threading.Thread(target=report) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = store.read_state()
    # Opened exactly once: later failures while open write nothing.
    assert (record.state, record.version) == (BreakerState.OPEN, 1)


def test_memory_store_refuses_a_write_with_a_stale_version() -> None:
    store = MemoryBreakerStore()
    assert store.write_state(BreakerRecord(version=1, reason="a"), 0)
    assert not store.write_state(BreakerRecord(version=1, reason="b"), 0)
    assert store.read_state().reason == "a"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (DestinationUnavailable("503"), FailureKind.DESTINATION_UNREACHABLE),
        (SpoolUnavailable("sqs down"), FailureKind.SPOOL_UNAVAILABLE),
        (RejectedRecord("bad", status=422), FailureKind.POISON_RECORD),
        (RejectedRecord("denied", status=401), FailureKind.AUTH_ERROR),
        (RejectedRecord("forbidden", status=403), FailureKind.AUTH_ERROR),
        (DecodeError("garbage"), FailureKind.POISON_RECORD),
        (ConfigError("no url"), FailureKind.CONFIG_ERROR),
        (RuntimeError("bug"), FailureKind.AGENT_CRASH),
    ],
)
def test_failure_kind_of_classifies_agent_errors(exc: Exception, kind: FailureKind) -> None:
    assert failure_kind_of(exc) is kind
    assert kind.counts is (kind is not FailureKind.POISON_RECORD)
