"""What a finished agent run leads to: steps 7 and 8 of a session
(:mod:`spoolwatch.serverless.worker`).

* :func:`report_run` tells the breaker: destination failures (unreachable, 5xx, 429, auth)
  count, poison records do not (they are quarantined); a failure that opened the breaker
  disarms the wake trigger.
* :func:`post_hand_off` posts the one hand-off message
  :func:`~spoolwatch.scaling.session.hand_off` wants.
* :class:`SessionOutcome` is what the invocation did, for its caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from spoolwatch.agent.loop import AgentResult
from spoolwatch.scaling import BreakerDecision, CircuitBreaker, FailureKind
from spoolwatch.scaling.session import hand_off, wake_after_failure
from spoolwatch.scaling.wake import WakeSwitch
from spoolwatch.serverless.aws import AgentQueues, RecruitMessage
from spoolwatch.serverless.decision_log import log_decision
from spoolwatch.serverless.wake.moves import switch_wake

__all__ = [
    "FAILURE_KINDS",
    "SessionOutcome",
    "last_read_had_records",
    "post_hand_off",
    "report_run",
    "run_failed",
]

#: ``AgentResult.failed_because`` → the breaker's failure kind.
FAILURE_KINDS = {
    "auth": FailureKind.AUTH_ERROR,
    "http_5xx": FailureKind.SERVER_ERROR,
    "http_429": FailureKind.THROTTLED,
    "connection": FailureKind.DESTINATION_UNREACHABLE,
    "timeout": FailureKind.DESTINATION_UNREACHABLE,
    "unavailable": FailureKind.DESTINATION_UNREACHABLE,
}


@dataclass
class SessionOutcome:
    """What one recruit / hand-off invocation did."""

    ran: bool = False
    why: str = ""
    recruited: int = 0
    handed_off: bool = False
    result: AgentResult | None = None


def run_failed(result: AgentResult) -> bool:
    """Whether the run failed (a destination failure, or a channel that could not read)."""
    return result.failed_because is not None or bool(result.channel_errors)


def last_read_had_records(result: AgentResult) -> bool:
    """Whether the run's last read (of any channel) returned records."""
    return any(
        int(stats.get("read") or 0) > 0 and not stats.get("drained", True)
        for stats in result.channels.values()
    )


def report_run(
    breaker: CircuitBreaker,
    wake: WakeSwitch,
    result: AgentResult,
    gate: BreakerDecision,
    *,
    probe_confirmed: bool = False,
) -> None:
    """Tell the breaker how the run went; a probe the watch already confirmed is reported as a
    plain success."""
    failed = result.failed_because
    if not run_failed(result):
        state = breaker.record_success(probe=gate.probe and not probe_confirmed)
        log_decision(
            "agent_finished",
            records=result.records_sent,
            quarantined=result.quarantined,
            stopped_by=result.stopped_by,
            breaker=state.value,
            probe=gate.probe,
        )
        return
    if failed is not None:
        kind = FAILURE_KINDS.get(failed, FailureKind.DESTINATION_UNREACHABLE)
        reason = result.last_error or failed
    else:
        kind, reason = FailureKind.SPOOL_UNAVAILABLE, "; ".join(result.channel_errors.values())
    state = breaker.record_failure(reason=reason, kind=kind)
    switch_wake(wake, wake_after_failure(state))
    log_decision(
        "agent_failed",
        kind=kind.value,
        reason=reason,
        unacked=result.unacked,
        records=result.records_sent,
        breaker=state.value,
        probe=gate.probe,
    )


def post_hand_off(
    queues: AgentQueues,
    breaker: CircuitBreaker,
    result: AgentResult | None,
    message: RecruitMessage,
    holder: str,
) -> bool:
    """:func:`~spoolwatch.scaling.session.hand_off`; posts the message it wants."""
    if result is None:
        return False
    decision = hand_off(
        result.stopped_by,
        failed=run_failed(result),
        flowing=last_read_had_records(result),
        breaker=breaker.state,
        backlog=lambda: sum(queues.data_backlog()),
    )
    if not decision.send:
        if decision.why in ("run_failed", "breaker_open"):
            log_decision("no_hand_off", holder=holder, why=decision.why)
        return False
    sent = queues.recruit(
        1,
        RecruitMessage("handoff", hop=message.hop + 1, requested_by=holder, seen=decision.seen),
    )
    log_decision(
        "hand_off",
        holder=holder,
        hop=message.hop + 1,
        backlog=decision.backlog,
        stopped_by=result.stopped_by,
        sent=sent,
    )
    return sent == 1
