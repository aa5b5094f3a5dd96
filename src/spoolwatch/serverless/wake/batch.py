"""The records Lambda's SQS trigger handed to the wake function, as a spool the agent reads.

The trigger has already received the messages; the wake function delivers them with the
same agent as everywhere else (validation, dedupe, quarantine, merged requests, retries) by
giving it this spool: :meth:`read` returns the event's messages once, then nothing.

* **ack** deletes the messages with their receipt handles (the destination accepted them),
  **quarantine** sends them to the dead-letter queue first, as :class:`SqsSpool` does;
* **nack** and **close** do *not* make messages visible again: they stay in flight until the
  data queue's visibility timeout, reported to Lambda as batch item failures. Giving them
  back at once would hand them straight to the trigger again, and every receive counts
  towards the queue's redrive limit while the destination is down.

:attr:`settled` holds the message ids that were deleted or quarantined; the rest are the
invocation's ``batchItemFailures``. A message that the event holds twice (SQS delivers at
least once) is read once, with its last receipt handle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spoolwatch.spools.base import Backlog, Delivery
from spoolwatch.spools.sqs import SqsSpool
from spoolwatch.spools.sqs_config import SqsConfig

__all__ = ["TriggerBatchSpool", "message_from_event_record"]


def message_from_event_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """One record of an SQS-trigger event in ``ReceiveMessage``'s shape."""
    attributes = item.get("attributes")
    return {
        "MessageId": str(item.get("messageId", "")),
        "ReceiptHandle": str(item.get("receiptHandle", "")),
        "Body": str(item.get("body", "")),
        "Attributes": dict(attributes) if isinstance(attributes, Mapping) else {},
    }


class TriggerBatchSpool(SqsSpool):
    """One trigger event's messages, read once (see the module docstring)."""

    def __init__(
        self, config: SqsConfig, records: Sequence[Mapping[str, Any]], client: Any = None
    ) -> None:
        super().__init__(config, client=client)
        # SQS delivers at least once: one message may come twice in a batch, with two
        # receipt handles. Delivered twice, the copy would be acked as a repeat of the
        # record while the other is still unsent, and the message id counted as settled.
        # One delivery per message id, in the place of its first copy, with the last
        # copy's (newest) receipt handle.
        by_id: dict[str, dict[str, Any]] = {}
        for item in records:
            message = message_from_event_record(item)
            by_id[message["MessageId"]] = message
        self._waiting = list(by_id.values())
        self.message_ids = [m["MessageId"] for m in self._waiting]
        self.settled: set[str] = set()

    def read(self, max_records: int, wait: float = 0.0) -> list[Delivery]:
        if max_records <= 0:
            return []
        taken, self._waiting = self._waiting[:max_records], self._waiting[max_records:]
        self._in_hand.update((m["ReceiptHandle"], None) for m in taken)
        return [self._delivery(message) for message in taken]

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        super().ack(deliveries)
        self.settled.update(str(d.token[1]) for d in deliveries)

    def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        self._release(deliveries)

    def backlog(self) -> Backlog:
        return Backlog(visible=len(self._waiting), in_flight=len(self._in_hand))

    def close(self) -> None:
        self._in_hand = {}
        super().close()

    @property
    def unsettled(self) -> list[str]:
        """Message ids neither deleted nor quarantined: the batch item failures."""
        return [mid for mid in self.message_ids if mid not in self.settled]
