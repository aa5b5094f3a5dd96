"""Which invocation a Lambda event is, and the partial batch response of an SQS batch.

* SQS records from the data queue: the wake trigger's batch
  (:func:`~spoolwatch.serverless.wake.function.deliver_and_recruit`);
* SQS records from the agent queue: recruit / hand-off messages, one agent's session each;
  a message whose session raised is reported in ``batchItemFailures`` (SQS makes it
  visible again), the others are deleted;
* anything else: the schedule (EventBridge).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from spoolwatch.serverless.aws import RecruitMessage
from spoolwatch.serverless.context import InvocationContext
from spoolwatch.serverless.settings import ServerlessSettings

__all__ = ["EventWorker", "dispatch", "from_data_queue"]

log = logging.getLogger("spoolwatch.serverless.worker")


class EventWorker(Protocol):
    """What the dispatch uses of :class:`~spoolwatch.serverless.worker.ServerlessAgent`."""

    settings: ServerlessSettings

    def on_schedule(self) -> dict[str, Any]: ...

    def on_wake(self, records: list[Any], context: InvocationContext) -> dict[str, Any]: ...

    def on_recruit(self, message: RecruitMessage, context: InvocationContext) -> object: ...


def dispatch(
    worker: EventWorker, event: Mapping[str, Any], context: InvocationContext
) -> dict[str, Any]:
    """Dispatch a Lambda event: SQS records (agent queue) or the schedule."""
    records = event.get("Records")
    if isinstance(records, list):
        if records and from_data_queue(worker.settings.data_queue_url, records[0]):
            return worker.on_wake(records, context)
        return _handle_sqs(worker, records, context)
    return worker.on_schedule()


def from_data_queue(data_queue_url: str, item: Any) -> bool:
    """Whether an SQS event record came from the data queue (the wake trigger)."""
    arn = str(item.get("eventSourceARN", "")) if isinstance(item, Mapping) else ""
    queue = data_queue_url.rstrip("/").rsplit("/", 1)[-1]
    return bool(arn) and arn.rsplit(":", 1)[-1] == queue


def _handle_sqs(
    worker: EventWorker, records: list[Any], context: InvocationContext
) -> dict[str, Any]:
    failures = []
    for item in records:
        message_id = str(item.get("messageId", ""))
        try:
            worker.on_recruit(RecruitMessage.decode(str(item.get("body", ""))), context)
        except Exception:
            # Reported as a partial batch failure: SQS makes the message visible again.
            log.exception("agent invocation failed for message %s", message_id)
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
