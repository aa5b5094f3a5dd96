"""The wake function: what one invocation of the data queue's own trigger does.

The trigger is armed only while the fleet is idle and the breaker is not open (see
:mod:`spoolwatch.serverless.wake`). An invocation:

1. reads the breaker; open → delivers nothing: the batch stays in flight until the data
   queue's visibility timeout (reported as batch item failures), so it is not handed
   straight back to the trigger while the destination is down;
2. delivers the batch of at most ten records it was handed with the same agent as
   everywhere else (:class:`~spoolwatch.serverless.wake_batch.TriggerBatchSpool`):
   accepted → deleted, poison → quarantined, the rest → batch item failures;
3. recruits at once, whether or not the delivery succeeded: ``decide`` on the data queue's
   counts (at least the records it was handed: the counts lag), live leases and waiting
   recruits, with ``saturated`` when the batch was full; the recruits carry ``seen`` so
   they start while the counts still read empty.

It holds no lease and records no breaker failure: the agents it recruits check the
destination, report to the breaker and disarm the trigger.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from spoolwatch.scaling import BreakerState, decide
from spoolwatch.serverless.aws import RecruitMessage
from spoolwatch.serverless.decision_log import log_decision
from spoolwatch.serverless.wake import WAKE_BATCH_SIZE
from spoolwatch.serverless.wake_batch import TriggerBatchSpool
from spoolwatch.spools.sqs_config import config_from_url

if TYPE_CHECKING:
    from spoolwatch.serverless.worker import InvocationContext, ServerlessAgent

__all__ = ["deliver_and_recruit"]

log = logging.getLogger("spoolwatch.serverless.worker")


def deliver_and_recruit(
    worker: ServerlessAgent, records: list[Any], context: InvocationContext
) -> dict[str, Any]:
    """One wake invocation (the module docstring); returns Lambda's partial batch response."""
    holder = context.aws_request_id
    spool = TriggerBatchSpool(
        config_from_url(worker.settings.data_queue_url), records, client=worker.queues.sqs
    )
    state = worker.breaker.state()
    if state is BreakerState.OPEN:
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
        decision = decide(
            max(visible, len(records)),
            in_flight,
            running,
            pending,
            state,
            worker.settings.scaling,
            saturated=len(records) >= WAKE_BATCH_SIZE,
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
