"""What one Lambda invocation does: the schedule's look at the backlog, or one agent's run.

The rules of a session (when to start, hand off, re-arm the wake trigger, stop as surplus,
what a full read or an idle decision does) are :mod:`spoolwatch.scaling.session`'s pure
functions; this module reads DynamoDB and SQS, calls them, and does what they decide.

**Schedule** (EventBridge): see :mod:`spoolwatch.serverless.schedule`.

**Recruit / hand-off** (a message of the agent queue, batch size 1):

1. ask the circuit breaker (``allow``); open → stop here; half-open → this agent may be the
   single probe;
2. read the backlog; empty → stop here (unless the recruiter saw records itself,
   ``seen``: the queue's counts lag a burst by up to a minute);
3. claim a lease slot (one conditional write); none free → stop here; else disarm the
   wake trigger (:mod:`spoolwatch.scaling.wake`: agents watch the queue now);
4. ask the destination (a spoolwatch service about one made-up record id, scope
   ``ingest``; DataRobot ``GET /api/v2/version/``); down or refusing the token → record
   the failure with the breaker and stop here, before taking a single record (see
   :mod:`spoolwatch.serverless.destination`);
5. once the first records were accepted (the backlog is real; the queue's counts lag),
   ``decide`` with running = live leases and pending = waiting recruit messages and post
   the recruits; decide again every heartbeat period while running (traffic rises). A
   full last read at least doubles the fleet, an idle decision recruits nobody, and the
   agent stops early when the breaker opened or its slot is surplus
   (:func:`~spoolwatch.scaling.session.watch_turn`,
   :func:`~spoolwatch.scaling.session.stop_reason`; run by
   :class:`~spoolwatch.serverless.watch.RunWatch`);
6. run the agent in-process on the data queue until it is empty or the deadline
   (``context.get_remaining_time_in_millis()`` minus a margin) is near, renewing the lease
   by heartbeat (a lost lease stops the agent). The margin is
   ``SPOOLWATCH_DEADLINE_MARGIN_SECONDS`` capped at half the time the invocation has left
   when the agent starts (:func:`~spoolwatch.scaling.run_margin`; logged once per
   execution environment when it is capped), so a function whose timeout is shorter than
   the margin still reads;
7. tell the breaker: destination failures (unreachable, 5xx, 429, auth) count, poison
   records do not (they are quarantined); a probe closes it as soon as its first records
   were accepted (:func:`~spoolwatch.serverless.outcome.report_run`);
8. release the lease; hand off (:func:`~spoolwatch.scaling.session.hand_off`: one message
   when the run stopped healthy with work left and the breaker is not open), else arm the
   wake trigger when the fleet is idle (:func:`~spoolwatch.scaling.session.wake_after_run`).
   A failure that opened the breaker disarms it
   (:func:`~spoolwatch.serverless.outcome.post_hand_off`).

Which of these an event is: :mod:`spoolwatch.serverless.lambda_event`.

**Wake** (the wake function, on the data queue's own trigger, armed only while the fleet is
idle): see :mod:`spoolwatch.serverless.wake.function`.

Every decision is logged as one JSON line (``event``, backlog, running, pending, recruited,
breaker state, why).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from spoolwatch.agent.config import AgentConfig
from spoolwatch.agent.loop import Agent, AgentResult
from spoolwatch.scaling import (
    BreakerDecision,
    BreakerState,
    CircuitBreaker,
    Clock,
    Decision,
    LeaseTable,
    SystemClock,
    decide,
    run_margin,
)
from spoolwatch.scaling.ceiling import (
    CeilingStore,
    LearnedCeiling,
    MemoryCeilingStore,
    Throughput,
    ceiling_cap,
    learn,
)
from spoolwatch.scaling.leases import LeaseHeartbeat
from spoolwatch.scaling.session import (
    DISARM_RUNNING,
    WakeMove,
    is_surplus,
    recruits_to_post,
    session_starts,
    wake_after_failure,
    wake_after_run,
)
from spoolwatch.scaling.wake import NoWakeSwitch, WakeSwitch
from spoolwatch.serverless.aws import AgentQueues, RecruitMessage
from spoolwatch.serverless.context import InvocationContext
from spoolwatch.serverless.decision_log import log_decision
from spoolwatch.serverless.destination import DestinationProblem, check_destination
from spoolwatch.serverless.lambda_event import dispatch
from spoolwatch.serverless.outcome import (
    SessionOutcome,
    post_hand_off,
    report_run,
    run_failed,
)
from spoolwatch.serverless.schedule import look_and_recruit
from spoolwatch.serverless.settings import ServerlessSettings
from spoolwatch.serverless.wake.function import deliver_and_recruit
from spoolwatch.serverless.wake.moves import switch_wake
from spoolwatch.serverless.watch import RunWatch
from spoolwatch.sinks.config import TargetConfig
from spoolwatch.spools.base import Spool

__all__ = ["InvocationContext", "ServerlessAgent", "SessionOutcome", "log_decision"]

log = logging.getLogger(__name__)


class ServerlessAgent:
    """Runs the schedule and recruit invocations against leases, the breaker and SQS."""

    def __init__(
        self,
        settings: ServerlessSettings,
        *,
        queues: AgentQueues,
        leases: LeaseTable,
        breaker: CircuitBreaker,
        agent_config: AgentConfig,
        clock: Clock | None = None,
        agent_factory: Callable[[AgentConfig], Agent] = Agent,
        check_destination: Callable[[TargetConfig], DestinationProblem | None] = (
            check_destination
        ),
        clients: Sequence[Any] = (),
        wake: WakeSwitch | None = None,
        wake_agent_factory: Callable[[AgentConfig, Callable[..., Spool]], Agent] | None = None,
        ceiling: CeilingStore | None = None,
    ) -> None:
        self.settings = settings
        self.queues = queues
        self.leases = leases
        self.breaker = breaker
        self.agent_config = agent_config
        self.clock = clock or SystemClock()
        self.agent_factory = agent_factory
        self.check_destination = check_destination
        self._clients = list(clients)
        self.wake: WakeSwitch = wake if wake is not None else NoWakeSwitch()
        self.wake_agent_factory = wake_agent_factory or (
            lambda config, open_spool: Agent(config, open_spool=open_spool)
        )
        self._margin_capped = False
        #: The fleet's learned ceiling (DynamoDB beside the leases; memory in tests).
        self.ceiling: CeilingStore = ceiling if ceiling is not None else MemoryCeilingStore()

    def close(self) -> None:
        """Close the AWS clients this worker was built with (their connection pools)."""
        for aws_client in self._clients:
            aws_client.close()
        self._clients.clear()

    # --- the schedule ---------------------------------------------------------------------

    def on_schedule(self) -> dict[str, Any]:
        """Look at the backlog and recruit; never runs an agent."""
        return look_and_recruit(self)

    # --- the wake trigger ------------------------------------------------------------------

    def _switch(self, move: WakeMove | None) -> None:
        """Arm or disarm the wake trigger; a failure is logged (the schedule reconciles)."""
        switch_wake(self.wake, move)

    def _arm_if_idle(self, result: AgentResult | None, handed_off: bool) -> None:
        """After a run: :func:`~spoolwatch.scaling.session.wake_after_run`."""
        if result is None:
            return
        try:
            move = wake_after_run(
                failed=run_failed(result),
                handed_off=handed_off,
                breaker=self.breaker.state,
                running=self.leases.count_running,
                pending=self.queues.pending_recruits,
            )
        except Exception:
            log.warning("could not tell whether the fleet is idle", exc_info=True)
            return
        self._switch(move)

    def on_wake(self, records: list[Any], context: InvocationContext) -> dict[str, Any]:
        """The wake function: deliver the trigger's batch, then recruit."""
        return deliver_and_recruit(self, records, context)

    # --- one agent -----------------------------------------------------------------------

    def on_recruit(self, message: RecruitMessage, context: InvocationContext) -> SessionOutcome:
        """One agent's session (steps 1 to 8 of the module docstring)."""
        holder = context.aws_request_id
        gate = self.breaker.allow(holder=holder)
        if not gate.allowed:
            log_decision(
                "agent_skipped",
                holder=holder,
                breaker=gate.state.value,
                why="breaker_open" if gate.state is BreakerState.OPEN else "probe_in_flight",
            )
            return SessionOutcome(why="breaker")
        visible, in_flight = self.queues.data_backlog()
        if not session_starts(visible + in_flight, seen=message.seen):
            log_decision("agent_skipped", holder=holder, backlog=0, why="empty_backlog")
            return SessionOutcome(why="empty_backlog")
        lease = self.leases.acquire(holder)
        if lease is None:
            log_decision(
                "agent_skipped",
                holder=holder,
                backlog=visible + in_flight,
                why="no_free_lease_slot",
            )
            return SessionOutcome(why="no_free_lease_slot")
        self._switch(DISARM_RUNNING)
        outcome = SessionOutcome(ran=True, why=message.reason)
        try:
            problem = self.check_destination(self.agent_config.target)
            if problem is not None:
                # Not one record is taken: receives would count towards the redrive limit.
                state = self.breaker.record_failure(reason=problem.reason, kind=problem.kind)
                self._switch(wake_after_failure(state))
                log_decision(
                    "agent_failed",
                    holder=holder,
                    kind=problem.kind.value,
                    reason=problem.reason,
                    breaker=state.value,
                    probe=gate.probe,
                    why="destination_not_ready",
                )
                return SessionOutcome(why="destination_not_ready")
            log_decision(
                "agent_started",
                holder=holder,
                slot=lease.slot,
                visible=visible,
                in_flight=in_flight,
                trigger=message.reason,
                hop=message.hop,
                probe=gate.probe,
            )
            outcome.result, watch = self._run_agent(lease, context, gate)
            outcome.recruited = watch.recruited
            self._report(outcome.result, gate, probe_confirmed=watch.probe_confirmed)
        finally:
            self.leases.release(lease)
        outcome.handed_off = self._hand_off(outcome.result, message, holder)
        self._arm_if_idle(outcome.result, outcome.handed_off)
        return outcome

    def _run_agent(
        self, lease: Any, context: InvocationContext, gate: BreakerDecision
    ) -> tuple[AgentResult, RunWatch]:
        """Run the agent with a watcher beside it (recruiting, probe, lease)."""
        config = dataclasses.replace(self.agent_config, agent_id=context.aws_request_id)
        agent = self.agent_factory(config)
        heartbeat = LeaseHeartbeat(self.leases, lease, self.settings.scaling.heartbeat_seconds)
        watch = RunWatch(
            agent,
            heartbeat,
            gate,
            context.aws_request_id,
            interval=self.settings.scaling.heartbeat_seconds,
            redecide=self.redecide,
            record_success=self.breaker.record_success,
            live_slots=self._live_slots,
        )
        heartbeat.start()
        watch.start()
        try:
            result = self.run_until_deadline(agent, context)
        finally:
            watch.stop()
            heartbeat.stop()
        return result, watch

    def run_until_deadline(self, agent: Agent, context: InvocationContext) -> AgentResult:
        """Run ``agent`` until the queue reads empty or Lambda's deadline (minus the margin)
        is near, then close it: a warm environment runs many sessions and keeps no
        connections of the past ones. The destination was checked with the token before
        (step 4), or the wake function's batch shows it: the agent checks no credentials."""
        try:
            return agent.run(
                until_empty=True,
                deadline=lambda: context.get_remaining_time_in_millis() / 1000.0,
                deadline_margin=self._margin(context.get_remaining_time_in_millis() / 1000.0),
                check_credentials=False,
            )
        finally:
            close = getattr(agent, "close", None)
            if callable(close):
                close()

    def _margin(self, remaining: float) -> float:
        """The deadline margin of a run starting with ``remaining`` seconds left."""
        configured = self.settings.deadline_margin_seconds
        margin = run_margin(configured, remaining)
        if margin < configured and not self._margin_capped:
            self._margin_capped = True
            log_decision(
                "deadline_margin_capped",
                configured=configured,
                remaining=round(remaining, 3),
                margin=round(margin, 3),
                why="SPOOLWATCH_DEADLINE_MARGIN_SECONDS is more than half the time the "
                "invocation has left; raise the function's timeout or lower the margin",
            )
        return margin

    def known_ceiling(self) -> LearnedCeiling | None:
        """The fleet's learned ceiling; None when none was learned or it cannot be read
        (logged: a decision goes on without it)."""
        try:
            return self.ceiling.read()
        except Exception:
            log.warning("could not read the learned ceiling", exc_info=True)
            return None

    def ceiling_cap(self) -> int | None:
        """The agents a fresh learned ceiling allows now (None: none)."""
        return ceiling_cap(self.known_ceiling(), self.clock.now())

    def redecide(
        self,
        holder: str,
        gate: BreakerDecision | None = None,
        *,
        saturated: bool = False,
        recruit: bool = True,
        throttled: bool = False,
        per_agent_rate: float | None = None,
        before: Throughput | None = None,
    ) -> tuple[int, Decision | None]:
        """While running: read the backlog, the running agents and the waiting recruits,
        ``decide``, and post the recruits; returns (recruited, decision). ``gate`` is this
        agent's breaker decision while it matters (an unconfirmed probe recruits nobody);
        else the breaker's current state. ``throttled``, ``per_agent_rate`` and ``before``
        tell ``decide`` whether the destination is at its ceiling (its rule 7). Errors are
        logged, never raised into the run."""
        try:
            visible, in_flight = self.queues.data_backlog()
            running = self.leases.count_running()
            pending = self.queues.pending_recruits()
            breaker = gate if gate is not None else self.breaker.state()
            known = self.known_ceiling()
            now = self.clock.now()
            decision = decide(
                visible,
                in_flight,
                running,
                pending,
                breaker,
                self.settings.scaling,
                saturated=saturated,
                throttled=throttled,
                per_agent_rate=per_agent_rate,
                before=before,
                ceiling=ceiling_cap(known, now),
            )
            learned = learn(decision.ceiling, running=running, known=known, now=now)
            if learned is not None:
                self.ceiling.write(learned)
                log_decision(
                    "ceiling_learned", holder=holder, agents=learned.agents, why=decision.ceiling
                )
            recruited = 0
            posting = recruits_to_post(decision, recruit=recruit)
            if posting:
                recruited = self.queues.recruit(
                    posting, RecruitMessage("recruit", requested_by=holder, seen=saturated)
                )
            log_decision(
                "agent_decided",
                **decision.as_log(),
                holder=holder,
                recruited=recruited,
                why=decision.reason if recruit else "idle_since_last_decision",
            )
            return recruited, decision
        except Exception:
            log.warning(
                "re-deciding while running failed; the schedule will recruit", exc_info=True
            )
            return 0, None

    def is_surplus(self, slot: int, keep: int) -> bool:
        """Whether the agent on ``slot`` is beyond the ``keep`` lowest live slots: when fewer
        agents are wanted than run, those stop, and agents deciding at the same moment agree
        on which (nobody stops twice, somebody always stays)."""
        return is_surplus(slot, keep, self._live_slots())

    def _live_slots(self) -> list[int]:
        """The slots of the live leases (one DynamoDB query)."""
        return [lease.slot for lease in self.leases.running()]

    def _report(
        self, result: AgentResult, gate: BreakerDecision, *, probe_confirmed: bool = False
    ) -> None:
        report_run(self.breaker, self.wake, result, gate, probe_confirmed=probe_confirmed)

    def _hand_off(self, result: AgentResult | None, message: RecruitMessage, holder: str) -> bool:
        """:func:`~spoolwatch.scaling.session.hand_off`; posts the message it wants."""
        return post_hand_off(self.queues, self.breaker, result, message, holder)

    # --- the Lambda event ------------------------------------------------------------------

    def handle(self, event: Mapping[str, Any], context: InvocationContext) -> dict[str, Any]:
        """Dispatch a Lambda event: SQS records (agent queue) or the schedule."""
        return dispatch(self, event, context)
