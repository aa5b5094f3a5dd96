"""The Lambda session rules of :mod:`spoolwatch.scaling.session`, on plain state."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from spoolwatch.scaling import BreakerDecision, BreakerState, Decision, ScalingSettings, decide
from spoolwatch.scaling.session import (
    ARM_IDLE,
    DISARM_BREAKER_OPEN,
    DISARM_RUNNING,
    WAITING_SECONDS,
    WAKE_BATCH_SIZE,
    WatchState,
    WatchTurn,
    hand_off,
    is_surplus,
    read_waiting,
    recruits_to_post,
    schedule_wake,
    session_starts,
    stop_reason,
    wake_after_failure,
    wake_after_run,
    wake_decision,
    wake_refuses,
    watch_turn,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
SETTINGS = ScalingSettings(target_concurrency=10)


def _unread(name: str) -> Callable[[], int]:
    def reading() -> int:
        raise AssertionError(f"{name} was read though the decision did not need it")

    return reading


def _breaker_unread() -> BreakerState:
    raise AssertionError("the breaker was read though the decision did not need it")


def test_a_session_starts_on_a_backlog_or_a_seen_message() -> None:
    assert session_starts(1, seen=False)
    assert session_starts(0, seen=True)
    assert not session_starts(0, seen=False)


@pytest.mark.parametrize(
    ("breaker", "running", "backlog", "move"),
    [
        (OPEN, 0, 0, DISARM_BREAKER_OPEN),
        (OPEN, 3, 50, DISARM_BREAKER_OPEN),
        (CLOSED, 2, 0, DISARM_RUNNING),
        (HALF_OPEN, 1, 0, DISARM_RUNNING),
        (CLOSED, 0, 0, ARM_IDLE),
        (CLOSED, 0, 5, None),  # records wait: the recruits will disarm it
        (HALF_OPEN, 0, 0, None),  # the probe decides
    ],
)
def test_the_schedule_moves_the_wake_switch(
    breaker: BreakerState, running: int, backlog: int, move: object
) -> None:
    assert schedule_wake(breaker, running=running, backlog=backlog) == move


def test_a_failure_disarms_only_when_it_left_the_breaker_open() -> None:
    assert wake_after_failure(OPEN) == DISARM_BREAKER_OPEN
    assert wake_after_failure(CLOSED) is None
    assert wake_after_failure(HALF_OPEN) is None


def test_after_a_run_the_switch_is_armed_only_when_the_fleet_is_idle() -> None:
    def closed() -> BreakerState:
        return CLOSED

    def moved(pending: int) -> object:
        return wake_after_run(
            failed=False,
            handed_off=False,
            breaker=closed,
            running=lambda: 0,
            pending=lambda: pending,
        )

    assert moved(0) == ARM_IDLE
    assert moved(1) is None


def test_after_a_run_readings_stop_at_the_first_that_settles_it() -> None:
    for failed, handed_off in ((True, False), (False, True)):
        move = wake_after_run(
            failed=failed,
            handed_off=handed_off,
            breaker=_breaker_unread,
            running=_unread("running"),
            pending=_unread("pending"),
        )
        assert move is None
    assert (
        wake_after_run(
            failed=False,
            handed_off=False,
            breaker=lambda: HALF_OPEN,
            running=_unread("running"),
            pending=_unread("pending"),
        )
        is None
    )
    assert (
        wake_after_run(
            failed=False,
            handed_off=False,
            breaker=lambda: CLOSED,
            running=lambda: 2,
            pending=_unread("pending"),
        )
        is None
    )


@pytest.mark.parametrize("stopped_by", ["empty", "surplus", "breaker_open", "lease_lost"])
def test_runs_stopped_for_these_reasons_are_not_handed_on_and_read_nothing(
    stopped_by: str,
) -> None:
    decision = hand_off(
        stopped_by, failed=False, flowing=True, breaker=_breaker_unread, backlog=_unread("b")
    )
    assert (decision.send, decision.why) == (False, "stopped")


def test_a_failed_run_is_not_handed_on() -> None:
    decision = hand_off(
        "deadline", failed=True, flowing=True, breaker=_breaker_unread, backlog=_unread("b")
    )
    assert (decision.send, decision.why) == (False, "run_failed")


def test_no_hand_off_while_the_breaker_is_open_and_the_counts_are_not_read() -> None:
    decision = hand_off(
        "deadline", failed=False, flowing=True, breaker=lambda: OPEN, backlog=_unread("b")
    )
    assert (decision.send, decision.why) == (False, "breaker_open")


@pytest.mark.parametrize(
    ("backlog", "flowing", "send", "seen"),
    [
        (0, False, False, False),
        (0, True, True, True),
        (7, False, True, False),
        (7, True, True, True),
    ],
)
def test_a_deadline_hands_on_when_work_is_left(
    backlog: int, flowing: bool, send: bool, seen: bool
) -> None:
    decision = hand_off(
        "deadline", failed=False, flowing=flowing, breaker=lambda: CLOSED, backlog=lambda: backlog
    )
    assert (decision.send, decision.seen, decision.backlog) == (send, seen, backlog)
    assert decision.why == ("handoff" if send else "no_work")


def test_surplus_slots_are_those_beyond_the_lowest_kept() -> None:
    live = [7, 2, 4]
    assert not is_surplus(2, 2, live) and not is_surplus(4, 2, live)
    assert is_surplus(7, 2, live)
    assert not is_surplus(9, 1, live)  # not live: nothing to stop


def _decision(running: int, backlog: int, breaker: BreakerState = CLOSED) -> Decision:
    return decide(backlog, 0, running, 0, breaker, ScalingSettings(target_concurrency=10))


def test_stop_reason_breaker_open_first_then_surplus() -> None:
    assert stop_reason(_decision(3, 100, OPEN), 0, _unread("slots")) == "breaker_open"

    # 3 running, 1 wanted (100 records): slots beyond the lowest one stop
    def slots() -> Sequence[int]:
        return [0, 1, 2]

    assert stop_reason(_decision(3, 100), 0, slots) is None
    assert stop_reason(_decision(3, 100), 2, slots) == "surplus"
    # an empty backlog wants 0, yet one agent always stays
    assert stop_reason(_decision(1, 0), 0, _unread("slots")) is None
    # enough wanted: the live slots are not read
    assert stop_reason(_decision(3, 5000), 2, _unread("slots")) is None


def test_a_read_is_waiting_after_waiting_seconds() -> None:
    assert not read_waiting(None, 100.0)
    assert not read_waiting(100.0, 100.0 + WAITING_SECONDS)
    assert read_waiting(100.0, 100.0 + WAITING_SECONDS + 0.01)


def _turn(
    state: WatchState, now: float, sent: int, *, full: bool = False, waiting: bool = False
) -> tuple[WatchState, WatchTurn]:
    return watch_turn(state, now=now, interval=40.0, sent=sent, full=full, waiting=waiting)


def test_the_first_decision_waits_for_accepted_records_then_one_every_period() -> None:
    state = WatchState.start(0.0, 40.0, probe=False)
    state, turn = _turn(state, 1.0, 0)
    assert not turn.decide
    state, turn = _turn(state, 2.0, 100)
    assert turn.decide and turn.recruit and state.next_decision == 42.0
    state, turn = _turn(state, 30.0, 200)
    assert not turn.decide  # decided already: the next one is periodic
    state, turn = _turn(state, 42.0, 200)
    assert turn.decide and turn.recruit  # 100 more since the previous decision


def test_without_records_the_first_decision_comes_after_one_period() -> None:
    state = WatchState.start(0.0, 40.0, probe=False)
    state, turn = _turn(state, 39.0, 0)
    assert not turn.decide
    state, turn = _turn(state, 40.0, 0)
    assert turn.decide and not turn.recruit  # idle: nothing accepted


def test_an_idle_decision_posts_nothing_and_a_waiting_read_is_not_saturated() -> None:
    state = WatchState.start(0.0, 40.0, probe=False)
    state, turn = _turn(state, 1.0, 100, full=True)
    assert turn.saturated and turn.recruit
    state, turn = _turn(state, 41.0, 100, full=True)
    assert turn.decide and turn.saturated and not turn.recruit  # nothing accepted since
    state, turn = _turn(state, 81.0, 300, full=True, waiting=True)
    assert turn.decide and turn.waiting and not turn.saturated and not turn.recruit
    decision = decide(5000, 0, 1, 0, CLOSED, SETTINGS)
    assert decision.recruits > 0
    assert recruits_to_post(decision, recruit=False) == 0
    assert recruits_to_post(decision, recruit=True) == decision.recruits


def test_a_probe_is_confirmed_at_its_first_records_and_decides_under_its_gate_before() -> None:
    state = WatchState.start(0.0, 40.0, probe=True)
    state, turn = _turn(state, 40.0, 0)
    assert turn.decide and turn.unconfirmed and not turn.confirm_probe
    state, turn = _turn(state, 50.0, 10)
    assert turn.confirm_probe and state.probe_confirmed and not turn.unconfirmed
    state, turn = _turn(state, 80.0, 20)
    assert not turn.confirm_probe  # once


def test_the_wake_function_refuses_only_while_open() -> None:
    assert wake_refuses(OPEN)
    assert not wake_refuses(HALF_OPEN) and not wake_refuses(CLOSED)


def test_the_wake_function_counts_at_least_its_batch_and_a_full_one_saturates() -> None:
    thin = wake_decision(0, 0, 0, 0, CLOSED, SETTINGS, records=3)
    assert (thin.backlog, thin.saturated, thin.recruits) == (3, False, 1)
    full = wake_decision(0, 0, 0, 0, CLOSED, SETTINGS, records=WAKE_BATCH_SIZE)
    assert full.saturated and full.recruits == 2  # at least double of max(1, running)
    gate = BreakerDecision(allowed=True, probe=False, state=OPEN)
    assert wake_decision(0, 0, 0, 0, gate, SETTINGS, records=10).recruits == 0


def test_each_decision_hears_new_429s_and_the_rate_accepted_since_the_previous_one() -> None:
    from spoolwatch.scaling.session import remember

    state = WatchState.start(0.0, 40.0, probe=False)
    state, turn = watch_turn(
        state, now=10.0, interval=40.0, sent=1000, full=True, waiting=False, throttled=0
    )
    assert turn.decide and not turn.throttled and turn.per_agent_rate == 100.0
    assert turn.before is None
    first = decide(10**6, 0, 2, 0, CLOSED, SETTINGS, saturated=True, per_agent_rate=100.0)
    state = remember(state, first)
    # Four agents now, the destination answered 429 twice: this agent took 50 records/s.
    state, turn = watch_turn(
        state, now=50.0, interval=40.0, sent=3000, full=True, waiting=False, throttled=2
    )
    assert turn.throttled and turn.per_agent_rate == 50.0
    assert turn.before is not None and turn.before.running == 2
    held = decide(
        10**6,
        0,
        4,
        0,
        CLOSED,
        SETTINGS,
        saturated=turn.saturated,
        throttled=turn.throttled,
        per_agent_rate=turn.per_agent_rate,
        before=turn.before,
    )
    assert (held.recruits, held.reason) == (0, "destination_full")
    # No new 429 since: not throttled; but four agents take what two took: flat.
    state = remember(state, held)
    state, turn = watch_turn(
        state, now=90.0, interval=40.0, sent=5000, full=True, waiting=False, throttled=2
    )
    assert not turn.throttled and turn.per_agent_rate == 50.0
    assert remember(state, None) is state
