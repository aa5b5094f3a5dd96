"""What the SQS spool sends to its dead-letter queue and reads back from it.

A quarantined message keeps its body and gets three string message attributes:
``spoolwatch-reason``, ``spoolwatch-position`` and ``spoolwatch-time``. A message without
them was moved there by the queue's redrive policy. The dead-letter queue is the
``RedrivePolicy`` target when the queue has one, else ``<name>-quarantine``
(``<name>-quarantine.fifo`` for FIFO queues).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from spoolwatch.spools.base import Delivery, QuarantinedItem
from spoolwatch.spools.sqs_requests import Entry

__all__ = [
    "REDRIVE_REASON",
    "dead_letter_entry",
    "quarantine_queue_name",
    "quarantined_item",
    "redrive_target",
]

REDRIVE_REASON = "moved by the queue's redrive policy"
_ATTR_REASON = "spoolwatch-reason"
_ATTR_POSITION = "spoolwatch-position"
_ATTR_TIME = "spoolwatch-time"
_REASON_CHARS = 2000


def dead_letter_entry(delivery: Delivery, reason: str, stamp: str, group: str | None) -> Entry:
    """The ``SendMessageBatch`` entry that parks ``delivery``; ``group`` only on FIFO queues."""
    entry: Entry = {
        "MessageBody": delivery.raw.decode("utf-8"),
        "MessageAttributes": {
            _ATTR_REASON: _text_attr(reason[:_REASON_CHARS] or "unknown"),
            _ATTR_POSITION: _text_attr(delivery.position),
            _ATTR_TIME: _text_attr(stamp),
        },
    }
    if group is not None:
        entry["MessageGroupId"] = group
        entry["MessageDeduplicationId"] = delivery.token[1]
    return entry


def quarantined_item(message: dict[str, Any]) -> QuarantinedItem:
    """A message received from the dead-letter queue, with why and when it was parked."""
    attrs = message.get("MessageAttributes", {})
    sent = message.get("Attributes", {}).get("SentTimestamp")
    when = datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat() if sent else ""
    return QuarantinedItem(
        reason=_attr(attrs, _ATTR_REASON) or REDRIVE_REASON,
        position=_attr(attrs, _ATTR_POSITION) or f"sqs:{message['MessageId']}",
        raw=str(message.get("Body", "")).encode("utf-8"),
        quarantined_at=_attr(attrs, _ATTR_TIME) or when,
    )


def redrive_target(policy: str) -> tuple[str, str] | None:
    """The dead-letter queue's name and owning account from a ``RedrivePolicy``, if any."""
    arn = str(_loads(policy).get("deadLetterTargetArn", ""))
    parts = arn.split(":")
    if len(parts) != 6:
        return None
    return parts[5], parts[4]


def quarantine_queue_name(short_name: str, fifo: bool) -> str:
    """The spool's own dead-letter queue for the queue called ``short_name``."""
    base = short_name.removesuffix(".fifo")
    return f"{base}-quarantine" + (".fifo" if fifo else "")


def _text_attr(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def _attr(attrs: dict[str, Any], name: str) -> str:
    value = attrs.get(name, {})
    return str(value.get("StringValue", "")) if isinstance(value, dict) else ""


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
