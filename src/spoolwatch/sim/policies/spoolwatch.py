"""``spoolwatch``: the Lambda handler as shipped, driving the real :mod:`spoolwatch.scaling`.

Nothing of the scaling policy or of a session's rules is re-implemented here. The rules
are :mod:`spoolwatch.scaling.session`'s (when an agent starts, how the wake switch moves,
each turn of the watch beside a running agent, when it stops as surplus, when it hands
off, what the wake function recruits), :func:`~spoolwatch.scaling.decide` and
:func:`~spoolwatch.scaling.run_margin`; they run with the real
:class:`~spoolwatch.scaling.CircuitBreaker`, :class:`~spoolwatch.scaling.LeaseTable` and
wake switch (:class:`~spoolwatch.scaling.wake.MemoryWakeSwitch`) over in-memory stores
(:mod:`~spoolwatch.sim.policies.counting`, which bill their DynamoDB requests), with a
clock reading simpy's time plus an epoch. The flow around them is that of
:mod:`spoolwatch.serverless.worker` (the schedule; one agent's session) and
:mod:`spoolwatch.serverless.wake.function` (:mod:`~spoolwatch.sim.policies.wake`), making
the same readings in the same order, with the modelled world in place of AWS:

* **Schedule**: every ``SimParams.schedule_seconds`` (``rate(5 minutes)`` in the
  template). It never drains; it is billed as a short invocation and is not counted as an
  agent.
* **Agent**: one invocation per agent-queue message (the queue's trigger has
  ``MaximumConcurrency`` = target concurrency; ``RecursiveLoop: Allow``). The destination
  check (a spoolwatch service's known-records question, DataRobot's
  ``GET /api/v2/version/``) takes ``CHECK_SECONDS``; while the destination is down it
  fails after ``destination_fail_seconds`` (``DESTINATION_UNREACHABLE``). The run is
  :func:`~spoolwatch.sim.model.drain` in the shipped agent's serial cycle with batches of
  ``LAMBDA_BATCH_RECORDS`` (100): ten receives of 10, one send, ten deletes of 10, one
  call after another; a read that holds records received before first asks the
  destination which of them it already accepted
  (:func:`~spoolwatch.sim.agent_cycle.skip_known`). A read waits up to ``IDLE_SECONDS``
  (``SPOOLWATCH_IDLE_SECONDS``, 20 s) for its first record, one long poll as
  ``SqsSpool.read(100, wait=20)`` makes; a stop that comes meanwhile does not cut it short.
  Reading stops ``run_margin(DEADLINE_MARGIN, time left)`` before the 900 s limit. Beside
  the run a heartbeat renews the lease every ``heartbeat_seconds`` (a lost lease stops the
  agent) and the watch takes its turns (``watch_turn``) at the first accepted records and
  at every heartbeat period. A stopped agent reads nothing more and finishes its batch in
  hand: a send to a destination that is down is retried until the 10 s shutdown grace
  (``retry.shutdown_grace_seconds``) runs out, then given back; without a stop, until 20 s
  (``margin / 3``) before the limit, the batch's visibility extended meanwhile; then it is
  given back with ``nack`` and the run has failed.
* **Wake function** (:mod:`~spoolwatch.sim.policies.wake`): a second function with its
  own trigger on the data queue (``BatchSize`` 10, ``MaximumConcurrency`` 2, timeout 30 s,
  deadline margin 10 s); the trigger polls only while the mapping is enabled, and the
  switch starts armed. A batch it does not deliver stays in flight until the data queue's
  visibility timeout (120 s) and is received again (the receive counts towards
  ``maxReceiveCount``). Its invocations are not agents: "peak agents", agent-seconds and
  the timeline leave them out, as they leave out the schedule's (they hold no lease slot,
  and ``TargetConcurrency`` bounds the agents only); they are billed (cost), their records
  count as delivered, and ``figures()`` reports them (``wake_*``).
* A crashed invocation reports nothing: its lease frees when it expires, and its
  agent-queue message comes back after that queue's visibility timeout (5,400 s).

Where the model still differs from what ships (besides :mod:`~spoolwatch.sim.model`'s
general approximations):

* The real agent cuts a read's wait to the time left before it stops reading
  (``StopControl.read_wait``); the model's read waits its whole ``IDLE_SECONDS`` even when
  it started less than that before ``deadline - DEADLINE_MARGIN``. With the 60 s margin and
  the 20 s wait, such a read still ends at least 40 s before Lambda's deadline, and a run
  that read nothing ends at the deadline either way (``deadline``, not ``empty``). This is
  more than a timing difference: it decides ``flowing`` (the run's last read returned
  records) in :func:`~spoolwatch.scaling.session.hand_off`. Cut as the real agent cuts it,
  the last read of a run that reaches its deadline under thin traffic is short and may
  return nothing; with counts that read 0 the run then hands nothing on, and the records
  wait for the wake trigger. Modelled with the cut (seed 1): on the diurnal day one of 102
  runs at the deadline did so (record age max 1.4 s → 31.2 s, peak agents 3 → 6, wake
  switch armed 1 → 3 times), and under a trickle of 5 records a second with counts that
  never catch up no run hands off. The model shows the hand-off the handler means to
  make; the shipped handler can miss it there.

* The agent's cycle is the shipped one (receive, send, delete in one thread), timed by its
  calls: each SQS call a log-normal latency (median 20 ms, mean 23 ms), the send one HTTP
  request of ``request_seconds`` per ``request_records`` plus the agent's own work at
  ``agent_throughput`` (measured on the real stream: 12 ms a request of 73 records, 2,600
  records/s; the easy set 50 ms, 100, 3,000), i.e. about 0.5 s per 100 records: about 200
  records/s per agent, 2,000/s for 10. The
  records of a read are taken at its first receive (the real ones over its ten), and are
  deleted at once after the last delete call (the real ones 10 at a time). SQS's
  short-poll sampling (an empty answer while a few messages wait) is not modelled, so a
  read comes back full whenever 100 records are visible. A read's long poll
  (:func:`~spoolwatch.sim.agent_cycle.read_serially`) is a waiter of the modelled queue:
  an arrival wakes the waiters in the order they began to wait (one per 10 records),
  records visible again are seen within a second; which of several concurrent long polls
  SQS answers is not published, so beside the wake trigger's five pollers (one waiter in
  the model) an agent gets more of the arrivals than it may; steady traffic arrives every
  tenth of a second. The reader's ``GetQueueAttributes`` for its statistics is neither
  timed nor billed.
* Each SQS or DynamoDB call of the schedule, of an agent's gates (its disarm included) and
  of the wake function takes a fixed 20 ms (a breaker write, a lost slot race are not
  timed); the calls of the watch, the heartbeat and the end of a run take no time. The
  watch reacts at once (the real one polls every 0.2 s) and counts records once they are
  deleted (the real one once accepted, ``sent``): its first decision, a probe's
  confirmation and whether a decision is idle follow that count. ``is_surplus`` reads the
  live leases without a DynamoDB call.
* The agent queue's waiting recruits are counted exactly; SQS's approximate counts of that
  queue lag like the data queue's, so the real handler may recruit more (the lease slots
  still cap the agents; the surplus exit at once, billed as short invocations).
* The wake switch: each ``arm``/``disarm`` is billed as one conditional DynamoDB write and
  each ``reconcile`` as one read; Lambda's ``Get``/``UpdateEventSourceMapping`` are neither
  billed nor timed. The mapping's effective state follows what the switch set
  ``SimParams.wake_switch_seconds`` later (30 s, an assumption: enabling and disabling a
  mapping is not instant, and AWS gives no figure); updates take effect in order. An update
  asked while the previous one is still being applied is counted
  (``wake_updates_in_transition``): AWS may refuse it (``ResourceInUseException``; the real
  switch then leaves the mapping to the schedule's ``reconcile``), which is not modelled.
* The wake trigger: an arrival wakes an idle poller at once, records visible again after a
  visibility timeout or a release within a second; a receive takes up to 10 visible records
  (no batching window, no short-poll sampling); Lambda's back-off after function errors
  (it lowers a concurrency of at most 2) is not modelled, nor are crash faults in the wake
  function. Its agent's start-up is not timed; its send is the agent's (its requests plus
  its own work), its delete one call.
* The look-up of redelivered records (``ChannelReader._already_delivered``): the
  destination here is the spoolwatch service, which answers ``POST
  /api/v2/spoolwatch/records/known/``; a DataRobot destination cannot be asked (the agent
  then sends every redelivered record, as the ``lambda-esm`` and ``recipe`` agents do
  here). The service's answer is exact and takes one round trip (``request_seconds``) whatever the
  number of ids (a read holds at most 100, one request of the real 1,000); a call to a
  destination that is down fails after ``destination_fail_seconds``, like a failing send,
  and is not asked again while the send that follows is retried (neither is the real
  one). The agent's statistics count the records it skips so as duplicates (avoided); the
  simulation's ``duplicates`` are records the destination received twice, so it reports
  them apart, as ``known_skipped``. The agent's in-process memory of delivered ids
  (``SeenIds``) is not modelled: the duplicates here come from crashes, after which that
  memory is empty anyway.
* The destination is up, down (unreachable after ``destination_fail_seconds``) or at its
  capacity (429 with ``Retry-After``: :mod:`~spoolwatch.sim.destination`; the destination
  check is one request of it and, refused, a throttled failure for the breaker; the 429s
  of an agent's sends are retried, and not told to the breaker unless the run gives its
  batch back, then as unreachable); 5xx, auth errors and poison records are not
  modelled. A failing send that ends after the destination came back counts as the retry
  that succeeded. The give-up point is
  re-checked when a stop arrives during a back-off wait (the real reader polls it every
  50 ms), but not during a send attempt that is failing (neither does the real one).
* Lambda's retry of an agent-queue message after a function error is modelled only for a
  crash; the agent's own heartbeats to the destination are not modelled.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from spoolwatch.scaling import (
    BreakerDecision,
    BreakerState,
    CircuitBreaker,
    Decision,
    FailureKind,
    Lease,
    LeaseTable,
    ScalingSettings,
    decide,
    run_margin,
)
from spoolwatch.scaling.ceiling import MemoryCeilingStore, Throughput, ceiling_cap, learn
from spoolwatch.scaling.session import (
    DEADLINE_MARGIN_SECONDS,
    DISARM_RUNNING,
    IDLE_SECONDS,
    LAMBDA_BATCH_RECORDS,
    WakeMove,
    WatchState,
    hand_off,
    is_surplus,
    read_waiting,
    recruits_to_post,
    remember,
    schedule_wake,
    session_starts,
    stop_reason,
    wake_after_failure,
    wake_after_run,
    watch_turn,
)
from spoolwatch.sim.agent_cycle import AGENT_RETRY
from spoolwatch.sim.lambda_ import AgentMessage, AgentQueueTrigger, LambdaFunction
from spoolwatch.sim.model import drain
from spoolwatch.sim.policies.base import Policy
from spoolwatch.sim.policies.counting import CountingBreakerStore, CountingLeaseStore
from spoolwatch.sim.policies.wake import WakeFunction, WakeMapping
from spoolwatch.sim.world import AgentRun, World

__all__ = ["IDLE_SECONDS", "CountingBreakerStore", "CountingLeaseStore", "SpoolwatchPolicy"]

#: ``SPOOLWATCH_DEADLINE_MARGIN_SECONDS``'s default: stop reading this long before the limit.
DEADLINE_MARGIN = DEADLINE_MARGIN_SECONDS
#: One SQS or DynamoDB call of the handler (within a region).
AWS_CALL_SECONDS = 0.02
#: The destination check answered by a destination that is up.
CHECK_SECONDS = 0.05
#: The agent queue's visibility timeout in the template (six times the function timeout).
AGENT_QUEUE_VISIBILITY = 5400.0
UNREACHABLE = FailureKind.DESTINATION_UNREACHABLE


@dataclass(eq=False)
class _Session:
    """One agent invocation's run: what its heartbeat and watch share with it."""

    agent: AgentRun
    lease: Lease
    gate: BreakerDecision
    hops: int
    give_up: float  # the batch in hand is given back by then (deadline - margin / 3)
    started: simpy.Event  # the first records were accepted
    finished: simpy.Event
    margin: float = DEADLINE_MARGIN  # ``run_margin``: stop reading this long before the deadline
    stopped_at: float | None = None
    stopped_by: str | None = None
    probe_confirmed: bool = False

    def give_up_at(self) -> float:
        """When the batch in hand is given up: the deadline's or a stop's grace."""
        if self.stopped_at is None:
            return self.give_up
        return min(self.give_up, self.stopped_at + AGENT_RETRY.shutdown_grace_seconds)


class SpoolwatchPolicy(Policy):
    """Schedule + agent queue + the real scaling code, in the shipped handler's flow."""

    name = "spoolwatch"
    summary = "spoolwatch.scaling: decide(), lease slots, circuit breaker, wake trigger"
    looks_up_known = True

    def __init__(
        self, world: World, *, schedule_phase: float = 0.5, wake_armed: bool = True
    ) -> None:
        super().__init__(world, schedule_phase=schedule_phase)
        self.wake_armed = wake_armed

    def start(self) -> None:
        """Build the real scaling objects over counting stores and start the schedule."""
        world = self.world
        self.settings = ScalingSettings(target_concurrency=world.params.concurrency)
        self.leases = LeaseTable.from_settings(
            CountingLeaseStore(world.ledger), self.settings, world.clock
        )
        self.breaker_store = CountingBreakerStore(world.ledger)
        self.breaker = CircuitBreaker(self.breaker_store, self.settings, world.clock)
        #: The fleet's learned ceiling (DynamoDB beside the leases on AWS).
        self.ceiling = MemoryCeilingStore()
        self.function = LambdaFunction(world)
        self.trigger = AgentQueueTrigger(
            world,
            self.function,
            self._handler,
            max_concurrency=world.params.concurrency,
            loop_detection=False,
        )
        self.wake = WakeMapping(world, armed=self.wake_armed)
        self.wake_function = WakeFunction(
            world,
            self.wake,
            breaker=self.breaker,
            leases=self.leases,
            trigger=self.trigger,
            settings=self.settings,
            call_seconds=AWS_CALL_SECONDS,
            ceiling=self.ceiling,
        )
        self.running_peak = 0
        self.lease_refusals = 0
        self.destination_checks = 0
        self.checks_failed = 0
        self.deadline_stops = 0
        self.hand_offs = 0
        self.hand_offs_counts_empty = 0
        self.recruits_withheld = 0
        #: Decisions that recruited nobody because the destination was at its ceiling.
        self.held_at_ceiling = 0
        self.decisions_waiting = 0
        self.full_reads_discounted = 0
        self.probes_unreported = 0
        self.stops: dict[str, int] = {"surplus": 0, "breaker_open": 0, "lease_lost": 0}
        world.env.process(self._schedule())

    def figures(self) -> dict[str, float | int | str | None]:
        """Breaker openings, refused leases, destination checks, runs stopped at the deadline
        and hand-offs (those made while the counts read empty: ``hand_offs_counts_empty``),
        recruits idle agents did not post (``recruits_withheld``), decisions made while the
        agent's read had waited over ``WAITING_SECONDS`` (``decisions_waiting``; those
        after a full read, not counted as saturated: ``full_reads_discounted``), decisions
        held back at the destination's ceiling (``held_at_ceiling``), and more."""
        return {
            "breaker_opened": self.breaker_store.openings,
            "lease_refusals": self.lease_refusals,
            "leases_peak": self.running_peak,
            "destination_checks": self.destination_checks,
            "checks_failed": self.checks_failed,
            "stopped_deadline": self.deadline_stops,
            "hand_offs": self.hand_offs,
            "hand_offs_counts_empty": self.hand_offs_counts_empty,
            "recruits_withheld": self.recruits_withheld,
            "held_at_ceiling": self.held_at_ceiling,
            "ceilings_learned": self.ceiling.writes,
            "decisions_waiting": self.decisions_waiting,
            "full_reads_discounted": self.full_reads_discounted,
            "probes_unreported": self.probes_unreported,
            "stopped_surplus": self.stops["surplus"],
            "stopped_breaker_open": self.stops["breaker_open"],
            "stopped_lease_lost": self.stops["lease_lost"],
            "cold_starts": self.function.cold_starts,
            **self.wake_function.figures(),
        }

    # --- reads the handler makes ----------------------------------------------------------

    def _backlog(self) -> int:
        """The data queue's approximate visible + in-flight count (one SQS call)."""
        visible, in_flight = self.world.queue.approx()
        self.world.ledger.sqs_call()
        return visible + in_flight

    def _decide(
        self,
        breaker: BreakerDecision | BreakerState,
        hops: int,
        counts: tuple[int, int] | None,
        running: int | None = None,
        *,
        saturated: bool = False,
        recruit: bool = True,
        throttled: bool = False,
        per_agent_rate: float | None = None,
        before: Throughput | None = None,
    ) -> Decision:
        """Counts and live leases (read now unless given), waiting recruits →
        :func:`decide` → post the recruits (``seen`` when ``saturated``; none unless
        ``recruit``); the decision. ``throttled``, ``per_agent_rate`` and ``before``: what
        the agent saw of the destination's ceiling (rule 7 of ``decide``)."""
        if counts is None:
            counts = self.world.queue.approx()
            self.world.ledger.sqs_call()
        visible, in_flight = counts
        self.world.ledger.sqs_call()  # the agent queue's counts: the waiting recruits
        if running is None:
            running = self.leases.count_running()
        self.running_peak = max(self.running_peak, running)
        now = self.world.clock.now()
        known = self.ceiling.read()
        decision = decide(
            visible,
            in_flight,
            running,
            self.trigger.pending,
            breaker,
            self.settings,
            saturated=saturated,
            throttled=throttled,
            per_agent_rate=per_agent_rate,
            before=before,
            ceiling=ceiling_cap(known, now),
        )
        self.held_at_ceiling += decision.reason == "destination_full"
        learned = learn(decision.ceiling, running=running, known=known, now=now)
        if learned is not None:
            self.ceiling.write(learned)
        posting = recruits_to_post(decision, recruit=recruit)
        self.trigger.post(posting, hops, seen=saturated)
        self.recruits_withheld += decision.recruits - posting
        return decision

    # --- the schedule ---------------------------------------------------------------------

    def _schedule(self) -> Generator[simpy.Event, Any, None]:
        env = self.world.env
        period = self.world.params.schedule_seconds
        yield env.timeout(self.first_tick(period))
        while True:
            self.function.invoke(self._on_schedule, agent=False)
            yield env.timeout(period)

    def _on_schedule(self, deadline: float) -> Generator[simpy.Event, Any, None]:
        """``ServerlessAgent.on_schedule``: look at the backlog and recruit; never drain;
        disarm the wake switch while the breaker is open or a lease slot is live, arm it
        when the backlog is empty and the breaker closed; reconcile."""
        env = self.world.env
        counts = self.world.queue.approx()
        self.world.ledger.sqs_call()
        state = self.breaker.state()
        running = self.leases.count_running()
        empty = sum(counts) == 0
        move = schedule_wake(state, running=running, backlog=sum(counts))
        # reads, the decision's calls, the switch's write, the reconcile's read
        yield env.timeout((3 + 2 * (not empty) + (move is not None) + 1) * AWS_CALL_SECONDS)
        if not empty:
            self._decide(state, 1, counts, running)
        self._switch(move)
        self.wake.reconcile()

    # --- one agent ------------------------------------------------------------------------

    def _handler(self, message: AgentMessage) -> Any:
        def body(deadline: float) -> Generator[simpy.Event, Any, None]:
            yield from self._on_recruit(message, deadline)

        return body

    def _on_recruit(
        self, message: AgentMessage, deadline: float
    ) -> Generator[simpy.Event, Any, None]:
        """``ServerlessAgent.on_recruit``: gates, destination check, run, report, hand-off,
        wake switch."""
        world = self.world
        env = world.env
        hops = message.hops
        holder = world.new_name("lambda")
        gate = self.breaker.allow(holder=holder)
        lease, calls = None, 1
        if gate.allowed:
            calls += 1
            # a recruiter that saw records itself is believed over the lagging counts
            if session_starts(self._backlog(), seen=message.seen):
                calls += 2  # read the slots, claim one
                lease = self.leases.acquire(holder)
                self.lease_refusals += lease is None
                if lease is not None:
                    calls += 1
                    self._switch(DISARM_RUNNING)
        yield env.timeout(calls * AWS_CALL_SECONDS)
        if lease is None:
            # a probe that exits here never reports: its claim holds until it times out
            self.probes_unreported += gate.probe
            world.over_recruited += 1
            return
        problem = yield from self._destination_ready()
        if problem is not None:
            self._record_failure(*problem)
            self.leases.release(lease)
            world.over_recruited += 1
            return
        margin = run_margin(DEADLINE_MARGIN, deadline - float(env.now))
        session = _Session(
            agent=AgentRun(holder),
            lease=lease,
            gate=gate,
            hops=hops,
            margin=margin,
            give_up=deadline - margin / 3,
            started=env.event(),
            finished=env.event(),
        )
        outcome = yield from self._run(session, deadline)
        if session.agent.processed == 0:
            world.over_recruited += 1
        if outcome == "crashed":
            env.process(self._redeliver(message))
            return
        failed = outcome == "failed"
        if failed:
            self._record_failure("destination unreachable")
        else:
            self.breaker.record_success(probe=gate.probe and not session.probe_confirmed)
        self.leases.release(session.lease)
        self.deadline_stops += outcome == "deadline"
        stopped_by = session.stopped_by if outcome == "stopped" else outcome
        handed_off = self._hand_off(
            stopped_by or outcome, hops, failed=failed, flowing=session.agent.last_read > 0
        )
        self._switch(
            wake_after_run(
                failed=failed,
                handed_off=handed_off,
                breaker=self.breaker.state,
                running=self.leases.count_running,
                pending=self._pending,
            )
        )

    def _record_failure(self, reason: str, kind: FailureKind = UNREACHABLE) -> None:
        """Tell the breaker; a failure that leaves it open disarms the wake switch."""
        self._switch(wake_after_failure(self.breaker.record_failure(reason=reason, kind=kind)))

    def _switch(self, move: WakeMove | None) -> None:
        """``ServerlessAgent._switch``: arm or disarm the wake switch as ``move`` says."""
        if move is not None:
            (self.wake.arm if move.armed else self.wake.disarm)(move.why)

    def _pending(self) -> int:
        """The waiting recruits (the agent queue's counts: one SQS call)."""
        self.world.ledger.sqs_call()
        return self.trigger.pending

    def _destination_ready(
        self,
    ) -> Generator[simpy.Event, Any, tuple[str, FailureKind] | None]:
        """The destination check (``check_destination``): one HTTP call, before a single
        record is received; ``None`` when it answers, else the failure the breaker is told
        (timed out, or 429 from a destination at its capacity: one request of it)."""
        world = self.world
        self.destination_checks += 1
        if world.destination_up():
            yield world.env.timeout(CHECK_SECONDS)
            if world.destination.admit(float(world.env.now), 1, 0.0) is None:
                return None
            self.checks_failed += 1
            return "destination check: HTTP 429", FailureKind.THROTTLED
        yield world.env.timeout(world.params.destination_fail_seconds)
        self.checks_failed += 1
        return "destination check: timed out", UNREACHABLE

    def _run(self, session: _Session, deadline: float) -> Generator[simpy.Event, Any, str]:
        """The agent with its lease heartbeat and its watch beside it."""
        env = self.world.env
        env.process(self._heartbeat(session))
        env.process(self._watch(session))
        try:
            return (
                yield from drain(
                    self.world,
                    session.agent,
                    deadline=deadline - session.margin,
                    until_empty=True,
                    on_step=lambda agent: self._accepted(session),
                    give_up_at=session.give_up_at,
                    read_batch=LAMBDA_BATCH_RECORDS,
                    read_wait=IDLE_SECONDS,
                )
            )
        finally:
            session.finished.succeed()

    def _accepted(self, session: _Session) -> Generator[simpy.Event, Any, None]:
        if not session.started.triggered:
            session.started.succeed()
        return
        yield  # pragma: no cover - makes this a generator

    def _heartbeat(self, session: _Session) -> Generator[simpy.Event, Any, None]:
        """``LeaseHeartbeat``: renew every heartbeat period; a lost lease stops the agent."""
        env = self.world.env
        while True:
            yield env.timeout(self.settings.heartbeat_seconds) | session.finished
            if session.finished.triggered:
                return
            renewed = self.leases.renew(session.lease)
            if renewed is None:
                self._stop(session, "lease_lost")
                return
            session.lease = renewed

    def _stop(self, session: _Session, why: str) -> None:
        """``Agent.stop(why)``: stop reading; the batch in hand has the shutdown grace."""
        if session.stopped_by is not None:
            return
        session.stopped_at = self.world.env.now
        session.stopped_by = why
        self.stops[why] += 1
        session.agent.request_stop(self.world.env)

    def _should_stop(self, session: _Session, decision: Decision) -> bool:
        """``RunWatch._should_stop``: :func:`~spoolwatch.scaling.session.stop_reason`."""
        why = stop_reason(decision, session.lease.slot, self._live_slots)
        if why is None:
            return False
        self._stop(session, why)
        return True

    def _live_slots(self) -> list[int]:
        """The live leases' slots (read without a DynamoDB call being timed)."""
        return [lease.slot for lease in self.leases.running()]

    def _is_surplus(self, slot: int, keep: int) -> bool:
        """``ServerlessAgent.is_surplus``."""
        return is_surplus(slot, keep, self._live_slots())

    def _watch(self, session: _Session) -> Generator[simpy.Event, Any, None]:
        """``RunWatch``: confirm a probe at the first accepted records; decide then (or
        after one heartbeat period) and every heartbeat period after that, recruiting only
        when records were accepted since the previous decision and the agent's read has not
        waited over ``WAITING_SECONDS`` (then a full last read is not saturation either)."""
        env = self.world.env
        interval = self.settings.heartbeat_seconds
        gate = session.gate
        state = WatchState.start(float(env.now), interval, probe=gate.probe)
        while True:
            waits = [env.timeout(max(0.0, state.next_decision - env.now)), session.finished]
            if not session.started.triggered:
                waits.append(session.started)
            yield env.any_of(waits)
            if session.finished.triggered:
                return
            full = session.agent.last_read >= LAMBDA_BATCH_RECORDS
            state, turn = watch_turn(
                state,
                now=float(env.now),
                interval=interval,
                sent=session.agent.processed,
                full=full,
                waiting=read_waiting(session.agent.reading_since, float(env.now)),
                throttled=session.agent.throttled,
            )
            if turn.confirm_probe:
                self.breaker.record_success(probe=True)
                session.probe_confirmed = True
            if not turn.decide:
                continue
            self.decisions_waiting += turn.waiting
            self.full_reads_discounted += turn.waiting and full
            decision = self._decide(
                gate if turn.unconfirmed else self.breaker.state(),
                session.hops + 1,
                None,
                saturated=turn.saturated,
                recruit=turn.recruit,
                throttled=turn.throttled,
                per_agent_rate=turn.per_agent_rate,
                before=turn.before,
            )
            state = remember(state, decision)
            if not turn.unconfirmed and self._should_stop(session, decision):
                return

    def _hand_off(self, stopped_by: str, hops: int, *, failed: bool, flowing: bool) -> bool:
        """``ServerlessAgent._hand_off``: :func:`~spoolwatch.scaling.session.hand_off`, then
        one agent-queue message (``seen`` when ``flowing``); whether it was posted."""
        decision = hand_off(
            stopped_by,
            failed=failed,
            flowing=flowing,
            breaker=self.breaker.state,
            backlog=self._backlog,
        )
        if not decision.send:
            return False
        self.hand_offs += 1
        self.hand_offs_counts_empty += decision.backlog == 0
        self.trigger.post(1, hops + 1, seen=decision.seen)
        return True

    def _redeliver(self, message: AgentMessage) -> Generator[simpy.Event, Any, None]:
        """A crashed invocation's agent-queue message comes back after its visibility."""
        yield self.world.env.timeout(AGENT_QUEUE_VISIBILITY)
        self.trigger.post(1, message.hops, seen=message.seen)
