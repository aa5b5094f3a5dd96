"""AWS SQS spool, standard and FIFO (FIFO iff the queue name ends in ``.fifo``).

Wire-compatible with DataRobot's library: one JSON envelope per message body, sent with
``SendMessageBatch``; on FIFO queues ``MessageGroupId`` is the producer's group (given at
construction, else the deployment id of the first record written, else ``"AAAAAAAA"``).
Unlike that library we also send ``MessageDeduplicationId`` = the record id, so FIFO queues
work without content-based deduplication and a retried send never duplicates a record
(within SQS's five-minute deduplication window).

Behaviour worth knowing:

* ``write`` packs at most 10 entries per batch whose bodies together stay within the queue's
  ``MaximumMessageSize`` (read once; SQS allows up to 1 MiB per message and per batch).
  Entries that SQS reports as ``Failed`` are sent again a few times, then the write raises;
  nothing is dropped silently.
* ``read`` long-polls (``WaitTimeSeconds`` from ``wait``, at most 20 s per call) and then
  drains without waiting up to ``max_records``. ``redelivered`` = ``ApproximateReceiveCount > 1``.
* ``nack(delay)`` and ``extend`` change the visibility timeout (``0`` = readable now).
* Dead-letter place: ``dead_letter_queue_url`` if given; else the queue's ``RedrivePolicy``
  target (``deadLetterTargetArn``); else ``<name>-quarantine`` (``<name>-quarantine.fifo``
  for FIFO queues), created on first use. ``quarantine`` sends the body there with message
  attributes ``spoolwatch-reason``, ``spoolwatch-position`` and ``spoolwatch-time``, then
  deletes it from the source queue. Messages SQS moved there itself show reason
  ``moved by the queue's redrive policy``.
* SQS cannot peek truly. ``peek`` and ``quarantined`` receive messages, hide them for 30 s
  so the next receive returns others, and make every one visible again (visibility 0) when
  the iteration ends: nothing is consumed, but consumers do not see those messages while
  browsing goes on, and each look counts as a receive (``redelivered`` becomes true; on a
  queue with a redrive policy, peeking often can push messages to the dead-letter queue).
  On FIFO queues a browse shows at most the first 10 messages of each message group,
  because SQS hands out nothing more of a group while some of it is in flight.

The API calls and the translation of botocore's errors live in
:mod:`spoolwatch.spools.sqs_requests`, the dead-letter entries in
:mod:`spoolwatch.spools.sqs_dead_letters`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from spoolwatch.errors import (
    ConfigError,
    InvalidRecord,
    RecordError,
    SpoolwatchError,
)
from spoolwatch.records import Record, decode_json, encode_json
from spoolwatch.spools.base import Backlog, Delivery, QuarantinedItem, Spool
from spoolwatch.spools.sqs_config import (
    DEFAULT_GROUP,
    MAX_BATCH,
    MAX_VISIBILITY,
    SQS_MAX_BYTES,
    SqsConfig,
    config_from_url,
)
from spoolwatch.spools.sqs_dead_letters import REDRIVE_REASON as REDRIVE_REASON
from spoolwatch.spools.sqs_dead_letters import (
    dead_letter_entry,
    quarantine_queue_name,
    quarantined_item,
    redrive_target,
)
from spoolwatch.spools.sqs_requests import (
    Entry,
    batch_call,
    browse,
    call,
    make_client,
    numbered,
    pack,
    receive,
)

__all__ = ["SqsConfig", "SqsSpool", "from_url"]

logger = logging.getLogger(__name__)

BROWSE_HIDE_SECONDS = 30


class SqsSpool(Spool):
    """An SQS queue as a spool. The boto3 client may be injected (tests, Lambda)."""

    transport = "sqs"
    record_byte_limit = 256_000

    def __init__(self, config: SqsConfig, client: Any = None) -> None:
        self.config = config
        self._client = client
        self._owns_client = client is None  # a client we create is ours to close
        self._queue_url = config.queue_url
        self._max_bytes: int | None = None
        self._dlq_url: str | None = config.dead_letter_queue_url
        # Receipt handles read and not yet settled: close() makes them visible again.
        self._in_hand: dict[str, None] = {}
        self._group: str | None = None

    @property
    def name(self) -> str:
        return self.config.queue_url or f"sqs://{self.config.queue_name}"

    # -- plumbing --------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 SQS client (created on first use)."""
        if self._client is None:
            self._client = make_client(self.config, self.name)
        return self._client

    def _call(self, action: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        return call(self.name, action, fn, **kwargs)

    @property
    def queue_url(self) -> str:
        """The queue's URL, looked up with GetQueueUrl once when only a name was given."""
        if self._queue_url is None:
            reply = self._call(
                "find the queue", self.client.get_queue_url, QueueName=self.config.queue_name
            )
            self._queue_url = str(reply["QueueUrl"])
        return self._queue_url

    def _attributes(self, url: str, *names: str) -> dict[str, str]:
        reply = self._call(
            "read queue attributes",
            self.client.get_queue_attributes,
            QueueUrl=url,
            AttributeNames=list(names),
        )
        return dict(reply.get("Attributes", {}))

    def _max_batch_bytes(self) -> int:
        if self._max_bytes is None:
            attrs = self._attributes(self.queue_url, "MaximumMessageSize")
            self._max_bytes = min(int(attrs.get("MaximumMessageSize", 262_144)), SQS_MAX_BYTES)
        return self._max_bytes

    # -- writing ---------------------------------------------------------------------------

    def _group_for(self, records: Sequence[Record]) -> str:
        # One group per producer, fixed at its first write, keeps all of its records in
        # order (DataRobot's library fixes it when the spool is opened).
        if self._group is None:
            self._group = self.config.message_group_id or next(
                (r.deployment_id for r in records if r.deployment_id), DEFAULT_GROUP
            )
        return self._group

    def write(self, records: Sequence[Record]) -> None:
        entries = []
        group = self._group_for(records) if self.config.fifo else None
        limit = self._max_batch_bytes() if records else 0
        for record in records:
            body = encode_json(record).decode("utf-8")
            size = len(body.encode("utf-8"))
            if size > limit:
                raise InvalidRecord(
                    f"record of {size} bytes exceeds the queue's MaximumMessageSize of {limit}; "
                    "nothing was written",
                    record_id=record.id,
                )
            entry: dict[str, Any] = {"MessageBody": body}
            if group is not None:
                entry["MessageGroupId"] = group
                entry["MessageDeduplicationId"] = record.id or _digest(body)
            entries.append(entry)
        self._send(self.queue_url, entries, "send records")

    def write_raw(self, bodies: Sequence[str]) -> None:
        """Send message bodies as they are, like another producer would (tests and tools)."""
        entries: list[dict[str, Any]] = []
        for body in bodies:
            entry: dict[str, Any] = {"MessageBody": body}
            if self.config.fifo:
                entry["MessageGroupId"] = self.config.message_group_id or DEFAULT_GROUP
                entry["MessageDeduplicationId"] = _digest(body)
            entries.append(entry)
        self._send(self.queue_url, entries, "send records")

    def _send(self, url: str, entries: list[Entry], action: str) -> None:
        for batch in pack(entries, self._max_batch_bytes()):
            send = self.client.send_message_batch
            self._batch_call(action, send, url, numbered(batch), strict=True)

    def _batch_call(
        self,
        action: str,
        fn: Callable[..., Any],
        url: str,
        entries: dict[str, Entry],
        *,
        strict: bool = False,
    ) -> list[Entry]:
        limit = self.config.attempts
        return batch_call(self.name, action, fn, url, entries, limit=limit, strict=strict)

    # -- reading ---------------------------------------------------------------------------

    def _receive(self, url: str, count: int, wait: int, visibility: int | None) -> list[Any]:
        return receive(self.name, self.client, url, count, wait, visibility)

    def read(self, max_records: int, wait: float = 0.0) -> list[Delivery]:
        if max_records <= 0:
            return []
        deadline = time.monotonic() + wait
        url, visibility = self.queue_url, self.config.visibility_timeout
        messages: list[Any] = []
        while True:
            remaining = deadline - time.monotonic()
            # (+0.05: a wait of 20 s is a 20 s long poll, not 19 s and a short one after it)
            poll = min(self.config.wait_time_seconds, max(0, math.floor(remaining + 0.05)))
            messages = self._receive(url, max_records, poll, visibility)
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0.05:
                break
            if poll == 0:
                # Long polls take whole seconds: pause for a fraction (or when long polling
                # is off) instead of polling in a tight loop.
                time.sleep(min(remaining, 1.0))
        while messages and len(messages) < max_records:
            more = self._receive(url, max_records - len(messages), 0, visibility)
            if not more:
                break
            messages.extend(more)
        self._in_hand.update((m["ReceiptHandle"], None) for m in messages)
        return [self._delivery(message) for message in messages]

    def _delivery(self, message: dict[str, Any]) -> Delivery:
        body = str(message.get("Body", ""))
        raw = body.encode("utf-8")
        position = f"sqs:{message['MessageId']}"
        attributes = message.get("Attributes", {})
        redelivered = int(attributes.get("ApproximateReceiveCount", "1")) > 1
        token = (message["ReceiptHandle"], message["MessageId"], attributes.get("MessageGroupId"))
        try:
            record = decode_json(raw, source=position)
        except RecordError as exc:
            return Delivery(None, raw, token, position, error=exc, redelivered=redelivered)
        return Delivery(record, raw, token, position, redelivered=redelivered)

    def _by_handle(self, deliveries: Sequence[Delivery], **extra: Any) -> list[dict[str, Any]]:
        return [{"ReceiptHandle": d.token[0], **extra} for d in deliveries]

    def _settle(self, action: str, fn: Callable[..., Any], entries: list[dict[str, Any]]) -> None:
        for start in range(0, len(entries), MAX_BATCH):
            chunk = entries[start : start + MAX_BATCH]
            refused = self._batch_call(action, fn, self.queue_url, numbered(chunk))
            for failure in refused:
                # Usually an expired receipt handle: the message became visible again and
                # will be delivered (and deduplicated downstream) once more.
                logger.warning(
                    "%s: SQS refused to %s one message: %s %s",
                    self.name,
                    action,
                    failure.get("Code"),
                    failure.get("Message", ""),
                )

    def _release(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            self._in_hand.pop(delivery.token[0], None)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        self._release(deliveries)
        self._settle(
            "delete messages", self.client.delete_message_batch, self._by_handle(deliveries)
        )

    def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        seconds = min(MAX_VISIBILITY, max(0, math.ceil(delay)))
        self._release(deliveries)
        self._settle(
            "change visibility",
            self.client.change_message_visibility_batch,
            self._by_handle(deliveries, VisibilityTimeout=seconds),
        )

    def extend(self, deliveries: Sequence[Delivery], seconds: float) -> None:
        timeout = min(MAX_VISIBILITY, max(0, math.ceil(seconds)))
        self._settle(
            "change visibility",
            self.client.change_message_visibility_batch,
            self._by_handle(deliveries, VisibilityTimeout=timeout),
        )

    # -- dead letters ----------------------------------------------------------------------

    def dead_letter_queue_url(self, create: bool = False) -> str | None:
        """The dead-letter queue's URL: configured, from the RedrivePolicy, or our own."""
        if self._dlq_url is not None:
            return self._dlq_url
        policy = self._attributes(self.queue_url, "RedrivePolicy").get("RedrivePolicy")
        target = redrive_target(policy) if policy else None
        if target is not None:
            reply = self._call(
                "find the dead-letter queue",
                self.client.get_queue_url,
                QueueName=target[0],
                QueueOwnerAWSAccountId=target[1],
            )
            self._dlq_url = str(reply["QueueUrl"])
            return self._dlq_url
        name = quarantine_queue_name(self.config.short_name, self.config.fifo)
        if create:
            attributes = {"FifoQueue": "true"} if self.config.fifo else {}
            reply = self._call(
                "create the quarantine queue",
                self.client.create_queue,
                QueueName=name,
                Attributes=attributes,
            )
            self._dlq_url = str(reply["QueueUrl"])
            return self._dlq_url
        try:
            reply = self._call(
                "find the quarantine queue", self.client.get_queue_url, QueueName=name
            )
        except ConfigError:
            return None
        self._dlq_url = str(reply["QueueUrl"])
        return self._dlq_url

    def quarantine(self, deliveries: Sequence[Delivery], reason: str) -> None:
        if not deliveries:
            return
        url = self.dead_letter_queue_url(create=True)
        assert url is not None
        stamp = datetime.now(UTC).isoformat()
        fifo = url.endswith(".fifo")
        entries = [
            dead_letter_entry(d, reason, stamp, self._dead_letter_group(d) if fifo else None)
            for d in deliveries
        ]
        self._send(url, entries, "send to the dead-letter queue")
        self.ack(deliveries)

    def quarantined(self, limit: int | None = None) -> Iterator[QuarantinedItem]:
        url = self.dead_letter_queue_url()
        if url is None:
            return
        for message in self._browse(url, limit):
            yield quarantined_item(message)

    def _dead_letter_group(self, delivery: Delivery) -> str:
        return str(delivery.token[2] or self.config.message_group_id or DEFAULT_GROUP)

    # -- inspection ------------------------------------------------------------------------

    def _browse(self, url: str, limit: int | None) -> Iterator[dict[str, Any]]:
        return browse(
            self.name,
            self.client,
            url,
            limit,
            hide=BROWSE_HIDE_SECONDS,
            attempts_limit=self.config.attempts,
        )

    def peek(self, limit: int | None = None) -> Iterator[Delivery]:
        """Waiting records; nothing is consumed, but each look counts as a receive and hides
        the message from consumers until the iteration ends (see the module notes)."""
        for message in self._browse(self.queue_url, limit):
            yield self._delivery(message)

    def backlog(self) -> Backlog:
        attrs = self._attributes(
            self.queue_url,
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
        visible = int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesDelayed", 0)
        )
        return Backlog(
            visible=visible, in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))
        )

    def close(self) -> None:
        """Make records read but not settled visible again at once (best effort), then
        close the client this spool created (its connection pool)."""
        handles, self._in_hand = list(self._in_hand), {}
        try:
            if handles:
                self._give_back(handles)
        finally:
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None

    def _give_back(self, handles: list[str]) -> None:
        entries = [{"ReceiptHandle": h, "VisibilityTimeout": 0} for h in handles]
        try:
            self._settle(
                "give back unsettled messages", self.client.change_message_visibility_batch, entries
            )
        except SpoolwatchError as exc:
            logger.warning(
                "%s: %s; they become visible after their visibility timeout", self.name, exc
            )


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def from_url(address: str, **options: Any) -> SqsSpool:
    """``sqs://NAME``, ``https://sqs.<region>.amazonaws.com/<account>/<name>``, or a queue
    URL of another endpoint (``http://127.0.0.1:PORT/<account>/<name>``, e.g. moto).
    ``client`` (a boto3 SQS client) is passed to the spool; other options configure it."""
    client = options.pop("client", None)
    return SqsSpool(config_from_url(address, **options), client=client)
