"""The wake function: what one invocation of the data queue's own trigger does.

The trigger is armed only while the fleet is idle and the breaker is not open (see
:mod:`spoolwatch.scaling.wake`). An invocation:

1. reads the breaker; open → delivers nothing: the batch stays in flight until the data
   queue's visibility timeout (reported as batch item failures), so it is not handed
   straight back to the trigger while the destination is down;
2. delivers the batch of at most ten records it was handed with the same agent as
   everywhere else (:class:`~spoolwatch.serverless.wake.batch.TriggerBatchSpool`):
   accepted → deleted, poison → quarantined, the rest → batch item failures;
3. recruits at once, whether or not the delivery succeeded
   (:func:`~spoolwatch.scaling.session.wake_decision` on the data queue's counts, live
   leases and waiting recruits); the recruits carry ``seen`` so they start while the
   counts still read empty.

The rules are :func:`~spoolwatch.scaling.session.wake_refuses` and
:func:`~spoolwatch.scaling.session.wake_decision`.

It holds no lease and records no breaker failure: the agents it recruits check the
destination, report to the breaker and disarm the trigger.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Protocol

from spoolwatch.agent.config import AgentConfig
from spoolwatch.agent.loop import Agent, AgentResult
from spoolwatch.scaling.session import wake_decision, wake_refuses
from spoolwatch.serverless.aws import RecruitMessage
from spoolwatch.serverless.context import InvocationContext
from spoolwatch.serverless.decision_log import log_decision
from spoolwatch.serverless.schedule import Recruiter
from spoolwatch.serverless.wake.batch import TriggerBatchSpool
from spoolwatch.spools.base import Spool
from spoolwatch.spools.sqs_config import config_from_url

__all__ = ["WakeWorker", "deliver_and_recruit"]

log = logging.getLogger("spoolwatch.serverless.worker")


class WakeWorker(Recruiter, Protocol):
    """What the wake function uses besides: the agent it runs on the trigger's batch."""

    agent_config: AgentConfig
    wake_agent_factory: Callable[[AgentConfig, Callable[..., Spool]], Agent]

    def run_until_deadline(self, agent: Agent, context: InvocationContext) -> AgentResult: ...


def deliver_and_recruit(
    worker: WakeWorker, records: list[Any], context: InvocationContext
) -> dict[str, Any]:
    """One wake invocation (the module docstring); returns Lambda's partial batch response."""
    holder = context.aws_request_id
    spool = TriggerBatchSpool(
        config_from_url(worker.settings.data_queue_url), records, client=worker.queues.sqs
    )
    state = worker.breaker.state()
    if wake_refuses(state):
        log_decision("wake_skipped", holder=holder, records=len(records), why="breaker_open")
        return {"batchItemFailures": [{"itemIdentifier": m} for m in spool.message_ids]}
    config = dataclasses.replace(worker.agent_config, agent_id=holder, heartbeat=False)
    agent = worker.wake_agent_factory(config, lambda *args, **options: spool)
    result = worker.run_until_deadline(agent, context)
    failed = spool.unsettled
    try:
        visible, in_flight = worker.queues.data_backlog()
        running = worker.leases.count_running()
        pending = worker.queues.pending_recruits()
        decision = wake_decision(
            visible,
            in_flight,
            running,
            pending,
            state,
            worker.settings.scaling,
            records=len(records),
            ceiling=worker.ceiling_cap(),
        )
        recruited = 0
        if decision.recruits:
            recruited = worker.queues.recruit(
                decision.recruits, RecruitMessage("wake", requested_by=holder, seen=True)
            )
        log_decision(
            "wake",
            **decision.as_log(),
            holder=holder,
            records=len(records),
            delivered=result.records_sent,
            quarantined=result.quarantined,
            not_delivered=len(failed),
            recruited=recruited,
            why=decision.reason,
        )
    except Exception:
        # The batch's outcome stands; the schedule recruits if this could not.
        log.warning("the wake function could not recruit", exc_info=True)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
