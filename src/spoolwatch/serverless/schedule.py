"""What one scheduled invocation (EventBridge) does: look at the backlog and recruit.

Read the data queue's backlog (visible + in flight), the agents running (live lease slots)
and the recruits already waiting in the agent queue; ``decide``; post that many recruit
messages; disarm the wake trigger while the breaker is open or agents run, arm it when the
fleet is idle (:func:`~spoolwatch.scaling.session.schedule_wake`), and reconcile its mapping
with the flag. It never runs an agent itself, so an empty queue costs one short invocation
and no recruits — and a broken hand-off chain heals within one period.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from spoolwatch.scaling import CircuitBreaker, LeaseTable, decide
from spoolwatch.scaling.session import schedule_wake
from spoolwatch.scaling.wake import WakeSwitch
from spoolwatch.serverless.aws import AgentQueues, RecruitMessage
from spoolwatch.serverless.decision_log import log_decision
from spoolwatch.serverless.settings import ServerlessSettings
from spoolwatch.serverless.wake.moves import switch_wake

__all__ = ["Recruiter", "ScheduleWorker", "look_and_recruit"]

log = logging.getLogger("spoolwatch.serverless.worker")


class Recruiter(Protocol):
    """What every recruiting invocation (the schedule's, the wake function's) uses of
    :class:`~spoolwatch.serverless.worker.ServerlessAgent`."""

    settings: ServerlessSettings
    queues: AgentQueues
    leases: LeaseTable
    breaker: CircuitBreaker

    def ceiling_cap(self) -> int | None:
        """The agents the fleet's learned ceiling allows now (None: none)."""
        ...


class ScheduleWorker(Recruiter, Protocol):
    """What the schedule uses besides: the wake switch it arms and disarms."""

    wake: WakeSwitch


def look_and_recruit(worker: ScheduleWorker) -> dict[str, Any]:
    """Look at the backlog and recruit; never runs an agent."""
    visible, in_flight = worker.queues.data_backlog()
    state = worker.breaker.state()
    running = worker.leases.count_running()
    pending = worker.queues.pending_recruits() if visible + in_flight else 0
    decision = decide(
        visible,
        in_flight,
        running,
        pending,
        state,
        worker.settings.scaling,
        ceiling=worker.ceiling_cap(),
    )
    recruited = 0
    if decision.recruits:
        recruited = worker.queues.recruit(decision.recruits, RecruitMessage("recruit"))
    log_decision("schedule", **decision.as_log(), recruited=recruited, why=decision.reason)
    switch_wake(worker.wake, schedule_wake(state, running=running, backlog=visible + in_flight))
    try:
        fixed = worker.wake.reconcile()
        if fixed:
            log_decision("wake_reconciled", mapping=fixed)
    except Exception:
        log.warning("could not reconcile the wake trigger", exc_info=True)
    return {"recruited": recruited, "reason": decision.reason, "backlog": decision.backlog}
