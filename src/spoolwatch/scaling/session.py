"""The rules of one Lambda session, as pure functions of what the caller read.

:mod:`spoolwatch.serverless` reads DynamoDB and SQS and calls these; the simulator
(:mod:`spoolwatch.sim.policies.spoolwatch` and :mod:`~spoolwatch.sim.policies.wake`) calls
the same functions with its modelled world. How many agents to recruit is
:func:`~spoolwatch.scaling.policy.decide`; how long before the deadline reading stops is
:func:`~spoolwatch.scaling.deadline.run_margin`. The rest of a session is here:

1. **Start** (:func:`session_starts`): an agent allowed by the breaker runs when the
   counts show a backlog, or when its message is ``seen`` (its recruiter saw records
   itself: the counts lag a burst by up to a minute).
2. **Wake switch**: an agent that took a lease slot disarms it (:data:`DISARM_RUNNING`); a
   failure that leaves the breaker open disarms it (:func:`wake_after_failure`); the
   schedule disarms it while the breaker is open or agents run and arms it when the fleet
   is idle (:func:`schedule_wake`); a run that did not fail and handed nothing on arms it
   when the breaker is closed and no agent runs or waits (:func:`wake_after_run`).
3. **Watch** (:class:`WatchState`, :func:`watch_turn`): beside a running agent, a half-open
   probe is confirmed at its first accepted records; the first decision waits for them (or
   one heartbeat period), then one every heartbeat period. A decision after a full read is
   ``saturated`` (it at least doubles the fleet, rule 6 of
   :mod:`~spoolwatch.scaling.policy`); one made when no records were accepted since the
   previous decision is *idle*: it posts no recruits (:func:`recruits_to_post`). One made
   while the agent's read has waited over :data:`WAITING_SECONDS` for its first record
   (:func:`read_waiting`) is idle and not saturated, whatever the last read returned: the
   agent has seen the queue run dry, whatever the lagging counts say. Each decision also
   hears whether the destination answered 429 since the previous one (``throttled``) and
   the records a second the agent accepted meanwhile (``per_agent_rate``), with what the
   previous decision saw (:func:`remember`): at the destination's ceiling nobody is
   recruited (rule 7 of :mod:`~spoolwatch.scaling.policy`).
4. **Stop** (:func:`stop_reason`): at a decision not made under an unconfirmed probe's
   gate, the agent stops when the breaker is open, or when fewer agents are wanted than
   run and its slot is beyond the lowest ``max(1, wanted)`` live slots (:func:`is_surplus`:
   agents deciding at the same moment agree on who stops, the lowest slot always stays).
5. **Hand-off** (:func:`hand_off`): a run that stopped for another reason than
   :data:`NO_HAND_OFF`, did not fail, while the breaker is not open, with work left (the
   counts show a backlog, or its last read returned records: the message is then
   ``seen``) posts one hand-off message.
6. **Wake function** (:func:`wake_refuses`, :func:`wake_decision`): while the breaker is
   open the trigger's batch is not delivered; else, delivered or not, it recruits on the
   counts, at least the records it was handed, saturated when the batch was full.

A rule that needs several readings, some of them only in some cases, takes them as
zero-argument callables (:data:`Reading`) and calls each at most once, in the order
listed, only when the decision depends on it: so the handler makes no AWS call the
decision does not need, and the simulator bills the same calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from spoolwatch.scaling.base import BreakerDecision, BreakerState
from spoolwatch.scaling.ceiling import Throughput
from spoolwatch.scaling.policy import Decision, decide
from spoolwatch.scaling.settings import ScalingSettings

__all__ = [
    "ARM_IDLE",
    "DEADLINE_MARGIN_SECONDS",
    "DISARM_BREAKER_OPEN",
    "DISARM_RUNNING",
    "IDLE_SECONDS",
    "LAMBDA_BATCH_RECORDS",
    "NO_HAND_OFF",
    "WAITING_SECONDS",
    "WAKE_BATCH_SIZE",
    "HandOff",
    "Reading",
    "WakeMove",
    "WatchState",
    "WatchTurn",
    "hand_off",
    "is_surplus",
    "read_waiting",
    "recruits_to_post",
    "remember",
    "schedule_wake",
    "session_starts",
    "stop_reason",
    "wake_after_failure",
    "wake_after_run",
    "wake_decision",
    "wake_refuses",
    "watch_turn",
]

T = TypeVar("T")
#: A reading the rule asks for only when its decision depends on it (one AWS call).
Reading = Callable[[], T]

#: ``SPOOLWATCH_DEADLINE_MARGIN_SECONDS``'s default: stop reading this long before the limit.
DEADLINE_MARGIN_SECONDS = 60.0
#: ``SPOOLWATCH_IDLE_SECONDS``'s default: a read waits this long for its first record, and
#: an agent whose read returned nothing stops.
IDLE_SECONDS = 20.0
#: Records an agent in Lambda reads and acks together when no agent config says otherwise
#: (``batching.max_records``).
LAMBDA_BATCH_RECORDS = 100
#: A read that has waited this long for its first record says the queue is (nearly) empty.
WAITING_SECONDS = 1.0
#: The wake trigger's batch size in the template: a batch this full says more records wait.
WAKE_BATCH_SIZE = 10
#: Runs that stopped for these reasons are not handed on: the queue read empty, fewer
#: agents are wanted, the breaker opened, or another agent holds the slot now.
NO_HAND_OFF = frozenset({"empty", "surplus", "breaker_open", "lease_lost"})
#: Clock readings this close to a decision's time count as reaching it (float sums).
_DUE_SLACK = 1e-9


# --- 1. start ------------------------------------------------------------------------------


def session_starts(backlog: int, *, seen: bool) -> bool:
    """Whether an agent the breaker let through goes on to claim a lease slot."""
    return backlog > 0 or seen


# --- 2. the wake switch --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WakeMove:
    """Arm (``armed``) or disarm the wake trigger, and why (the switch logs it)."""

    armed: bool
    why: str


#: An agent took a lease slot: agents watch the queue now.
DISARM_RUNNING = WakeMove(False, "agents_running")
#: The breaker is open: records the trigger took would only count towards the redrive limit.
DISARM_BREAKER_OPEN = WakeMove(False, "breaker_open")
#: Nobody runs or waits and the breaker is closed: arrivals should wake an agent.
ARM_IDLE = WakeMove(True, "fleet_idle")


def schedule_wake(breaker: BreakerState, *, running: int, backlog: int) -> WakeMove | None:
    """The schedule's move: disarm while the breaker is open or agents run (an arm and a
    disarm that crossed can leave it armed while agents run), arm when the breaker is
    closed and the backlog empty; else none."""
    if breaker is BreakerState.OPEN:
        return DISARM_BREAKER_OPEN
    if running > 0:
        return DISARM_RUNNING
    if breaker is BreakerState.CLOSED and backlog == 0:
        return ARM_IDLE
    return None


def wake_after_failure(breaker: BreakerState) -> WakeMove | None:
    """After recording a failure (the check's or the run's): disarm when it left the
    breaker open."""
    return DISARM_BREAKER_OPEN if breaker is BreakerState.OPEN else None


def wake_after_run(
    *,
    failed: bool,
    handed_off: bool,
    breaker: Reading[BreakerState],
    running: Reading[int],
    pending: Reading[int],
) -> WakeMove | None:
    """After a run that did not fail and handed nothing on (it read empty, was stopped, or
    its deadline came while the queue read empty): arm when the breaker is closed, no lease
    is live and no recruit waits. Readings in that order, each only when still needed."""
    if failed or handed_off:
        return None
    if breaker() is not BreakerState.CLOSED or running() != 0 or pending() != 0:
        return None
    return ARM_IDLE


# --- 3. the watch beside a running agent ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class WatchState:
    """What the watch remembers between turns."""

    #: When the next periodic decision is due (clock seconds).
    next_decision: float
    #: Whether this agent is the half-open breaker's probe.
    probe: bool = False
    decided: bool = False
    #: Records accepted at the previous decision.
    sent_then: int = 0
    probe_confirmed: bool = False
    #: When the previous decision was made (the start before the first).
    decided_at: float = 0.0
    #: The destination's 429 answers counted at the previous decision.
    throttled_then: int = 0
    #: What the previous decision saw of the accepted rate (:func:`remember`).
    before: Throughput | None = None

    @classmethod
    def start(cls, now: float, interval: float, *, probe: bool) -> WatchState:
        """The watch of an agent starting at ``now``, deciding every ``interval``."""
        return cls(next_decision=now + interval, probe=probe, decided_at=now)

    @property
    def unconfirmed(self) -> bool:
        """A probe whose first records were not accepted yet: it decides under its own
        gate (recruiting nobody) and does not stop on the decision."""
        return self.probe and not self.probe_confirmed


@dataclass(frozen=True, slots=True)
class WatchTurn:
    """What one turn of the watch does."""

    #: Record the probe's success now (the breaker closes).
    confirm_probe: bool = False
    #: Decide now.
    decide: bool = False
    #: The decision is made under the probe's own gate (see :attr:`WatchState.unconfirmed`).
    unconfirmed: bool = False
    #: The decision counts the agent's last read as full (rule 6 of ``decide``).
    saturated: bool = False
    #: The decision may post recruits (not an idle one).
    recruit: bool = False
    #: The agent's read had waited over :data:`WAITING_SECONDS`.
    waiting: bool = False
    #: The destination answered 429 since the previous decision.
    throttled: bool = False
    #: Records a second the agent accepted since the previous decision (None: no time passed).
    per_agent_rate: float | None = None
    #: What the previous decision saw (``before`` of ``decide``).
    before: Throughput | None = None


def read_waiting(reading_since: float | None, now: float) -> bool:
    """Whether the read that began at ``reading_since`` (None: not reading) has waited over
    :data:`WAITING_SECONDS` for its first record."""
    return reading_since is not None and now - reading_since > WAITING_SECONDS


def watch_turn(
    state: WatchState,
    *,
    now: float,
    interval: float,
    sent: int,
    full: bool,
    waiting: bool,
    throttled: int = 0,
) -> tuple[WatchState, WatchTurn]:
    """One turn of the watch at ``now``: ``sent`` records accepted so far, ``full`` whether
    the last read came back full, ``waiting`` whether the read in progress has waited over
    :data:`WAITING_SECONDS`, ``throttled`` the destination's 429 answers so far. Returns the
    new state and what to do."""
    confirm = state.unconfirmed and sent > 0
    if confirm:
        state = replace(state, probe_confirmed=True)
    # The first decision waits for the first accepted records: then the backlog is real
    # (the queue's counts lag) and the destination takes records.
    due = (not state.decided and sent > 0) or now >= state.next_decision - _DUE_SLACK
    if not due:
        return state, WatchTurn(confirm_probe=confirm)
    elapsed = now - state.decided_at
    turn = WatchTurn(
        confirm_probe=confirm,
        decide=True,
        unconfirmed=state.unconfirmed,
        saturated=full and not waiting,
        recruit=sent > state.sent_then and not waiting,
        waiting=waiting,
        throttled=throttled > state.throttled_then,
        per_agent_rate=(sent - state.sent_then) / elapsed if elapsed > 0 else None,
        before=state.before,
    )
    state = replace(
        state,
        decided=True,
        next_decision=now + interval,
        sent_then=sent,
        decided_at=now,
        throttled_then=throttled,
    )
    return state, turn


def remember(state: WatchState, decision: Decision | None) -> WatchState:
    """The state after ``decision`` (None: it failed): its throughput is the ``before`` of
    the next one."""
    if decision is None or decision.throughput is None:
        return state
    return replace(state, before=decision.throughput)


def recruits_to_post(decision: Decision, *, recruit: bool) -> int:
    """The recruits a decision posts: none for an idle one (``recruit`` False)."""
    return decision.recruits if recruit else 0


# --- 4. stopping early ---------------------------------------------------------------------


def is_surplus(slot: int, keep: int, live_slots: Sequence[int]) -> bool:
    """Whether ``slot`` is beyond the ``keep`` lowest of ``live_slots``."""
    live = sorted(live_slots)
    return slot in live and live.index(slot) >= keep


def stop_reason(decision: Decision, slot: int, live_slots: Reading[Sequence[int]]) -> str | None:
    """Why the agent on ``slot`` stops after ``decision`` (``breaker_open``, ``surplus``), or
    None. ``live_slots`` is read only when fewer agents are wanted than run."""
    if decision.breaker is BreakerState.OPEN:
        return "breaker_open"
    keep = max(1, decision.wanted)
    if decision.running > keep and is_surplus(slot, keep, live_slots()):
        return "surplus"
    return None


# --- 5. hand-off ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandOff:
    """Whether a run's end posts one hand-off message, and why (not)."""

    send: bool
    #: ``handoff``; or ``stopped`` (a reason in :data:`NO_HAND_OFF`), ``run_failed``,
    #: ``breaker_open``, ``no_work``.
    why: str
    #: The message is ``seen``: its agent believes it over counts that read empty.
    seen: bool = False
    #: The counts' backlog when they were read, else None.
    backlog: int | None = None


def hand_off(
    stopped_by: str,
    *,
    failed: bool,
    flowing: bool,
    breaker: Reading[BreakerState],
    backlog: Reading[int],
) -> HandOff:
    """Whether a run that stopped for ``stopped_by`` hands on. ``failed``: the run failed (the
    breaker decides, and the schedule recruits once it lets agents through); ``flowing``:
    its last read returned records (records were still coming when the deadline came: hand
    off even while the queue's lagging counts read empty, else thin traffic would wait for
    the schedule). ``breaker`` then ``backlog`` are read only when needed."""
    if stopped_by in NO_HAND_OFF:
        return HandOff(False, "stopped")
    if failed:
        return HandOff(False, "run_failed")
    if breaker() is BreakerState.OPEN:
        return HandOff(False, "breaker_open")
    counted = backlog()
    if counted == 0 and not flowing:
        return HandOff(False, "no_work", backlog=counted)
    return HandOff(True, "handoff", seen=flowing, backlog=counted)


# --- 6. the wake function ------------------------------------------------------------------


def wake_refuses(breaker: BreakerState) -> bool:
    """Whether the wake function leaves its batch undelivered: the breaker is open (the batch
    stays in flight until the visibility timeout, not handed straight back)."""
    return breaker is BreakerState.OPEN


def wake_decision(
    visible: int,
    in_flight: int,
    running: int,
    pending: int,
    breaker: BreakerDecision | BreakerState,
    settings: ScalingSettings,
    *,
    records: int,
    ceiling: int | None = None,
) -> Decision:
    """The wake function's recruiting, delivered or not: the counts lag, so the visible
    backlog is at least the ``records`` it was handed; a full batch is saturated; at most
    ``ceiling`` agents when the fleet learned one."""
    return decide(
        max(visible, records),
        in_flight,
        running,
        pending,
        breaker,
        settings,
        saturated=records >= WAKE_BATCH_SIZE,
        ceiling=ceiling,
    )
