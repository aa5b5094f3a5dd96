"""RabbitMQ spool: one durable queue, persistent messages, publisher confirms, manual acks.

Wire-compatible with DataRobot's library: default exchange, routing key = queue name, queue
declared ``durable=True`` with no other arguments (declaring it with different arguments
would fail with ``PRECONDITION_FAILED`` against queues that library created), messages
persistent (``delivery_mode=2``), body = the JSON envelope.

Behaviour worth knowing:

* ``write`` publishes the whole batch with publisher confirms pipelined (no wait per
  message) and returns once the broker confirmed every record. Nacked records are published
  again a few times, then :class:`SpoolUnavailable` is raised; unroutable records (the queue
  was deleted) raise :class:`ConfigError`. After a lost connection the unconfirmed records
  are published again on a new connection (at-least-once: a record may then appear twice).
* ``read`` consumes with manual acks and ``basic_qos`` of ``prefetch`` or twice the largest
  read, whichever is more; ``ack`` acknowledges a contiguous run of delivery tags with one
  ``multiple=True`` frame.
* When the broker closes the connection (restart, ``rabbitmqctl close_connection``), the
  next call reconnects. Deliveries read on the dead connection are not acked on the new one:
  the broker has already requeued them and hands them out again (``redelivered=True``).
  Acking or nacking such stale deliveries is a logged no-op; quarantining them is skipped,
  because they come back and are quarantined then.
* ``nack`` requeues at once (``basic_nack(requeue=True)``): plain RabbitMQ has no delayed
  redelivery, so ``delay`` is ignored.
* ``quarantine`` publishes to ``<queue>.quarantine`` (durable) with headers ``reason``,
  ``position`` and ``time``, waits for the confirm, then acks the original.
* ``peek``/``quarantined`` use ``basic_get`` without ack on a separate channel and close it,
  so the broker requeues what was looked at; those messages are then marked redelivered.
* Heartbeats are answered only while the spool is being called. A consumer that spends
  longer than about two heartbeat intervals elsewhere loses its connection; the spool
  reconnects on the next call and the broker redelivers what was in hand.
* The password of the URL never appears in ``name``, logs or error messages.

The connection, the translation of pika's errors, reconnecting and confirmed publishing
live in :mod:`spoolwatch.spools.rabbitmq_connection`.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from spoolwatch.errors import ConfigError, InvalidRecord, MissingExtra, RecordError
from spoolwatch.records import decode_json, encode_json
from spoolwatch.records.envelope import Record
from spoolwatch.spools.base import Backlog, Delivery, QuarantinedItem, Spool
from spoolwatch.spools.rabbitmq_config import RabbitMQConfig, config_from_url, mask_url
from spoolwatch.spools.rabbitmq_connection import BrokerConnection, connection_parameters

try:
    import pika
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingExtra("pika", "rabbitmq") from exc

__all__ = ["RabbitMQConfig", "RabbitMQSpool", "connection_parameters", "from_url", "mask_url"]

logger = logging.getLogger(__name__)

_PERSISTENT = 2
_PEEK_GENERATION = -1


class RabbitMQSpool(Spool):
    """A durable RabbitMQ queue as a spool. One object per thread (pika is not thread-safe)."""

    transport = "rabbitmq"
    record_byte_limit = 52_428_800

    def __init__(self, config: RabbitMQConfig) -> None:
        self.config = config
        self._broker = BrokerConnection(config, self.name, self._forget_deliveries)
        self._consumer: Any = None
        self._window = 0
        self._buffer: deque[tuple[int, bool, bytes]] = deque()
        self._outstanding: deque[int] = deque()  # consumer tags not yet settled, in order
        self._settled: set[int] = set()  # settled out of order, still in _outstanding
        self._handed: set[int] = set()  # returned by read() and not yet settled

    @property
    def name(self) -> str:
        return f"{mask_url(self.config.url)}?queue={self.config.queue}"

    # -- connection ------------------------------------------------------------------------

    def _forget_deliveries(self) -> None:
        """The connection is being given up: what it delivered is the broker's again."""
        self._consumer = None
        self._buffer.clear()
        self._outstanding.clear()
        self._settled.clear()
        if self._handed:
            logger.warning(
                "%s: connection lost with %d records in flight; the broker redelivers them",
                self.name,
                len(self._handed),
            )
        self._handed.clear()

    # -- writing ---------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        properties = pika.BasicProperties(delivery_mode=_PERSISTENT)
        messages = []
        for record in records:
            body = encode_json(record)
            if len(body) > self.record_byte_limit:
                raise InvalidRecord(
                    f"record of {len(body)} bytes exceeds RabbitMQ's limit of "
                    f"{self.record_byte_limit}; nothing was written",
                    record_id=record.id,
                )
            messages.append((body, properties))
        if messages:
            self._broker.publish(self.config.queue, messages, f"publish to {self.config.queue!r}")

    def write_raw(self, bodies: Sequence[bytes]) -> None:
        """Publish bytes as they are, like another producer would (for tests and tools)."""
        properties = pika.BasicProperties(delivery_mode=_PERSISTENT)
        messages = [(body, properties) for body in bodies]
        self._broker.publish(self.config.queue, messages, f"publish to {self.config.queue!r}")

    # -- reading ---------------------------------------------------------------------------

    def _on_delivery(self, channel: Any, method: Any, _properties: Any, body: bytes) -> None:
        if channel is not self._consumer:
            return  # a closed consumer channel's delivery: the broker requeued it
        self._buffer.append((method.delivery_tag, bool(method.redelivered), body))
        self._outstanding.append(method.delivery_tag)

    def _ensure_consumer(self, wanted: int) -> None:
        conn = self._broker.open()
        # A window of at least two reads keeps the broker sending while a batch is in hand.
        window = min(65535, max(self.config.prefetch, 2 * wanted))
        if self._consumer is not None:
            # The broker applies a prefetch to consumers started after it, so a larger
            # window needs a new consumer; switch only while nothing is in hand.
            if window <= self._window or self._handed or self._buffer:
                return
            closing, self._consumer = self._consumer, None
            self._broker.call("stop consuming", closing.close)
            self._buffer.clear()
            self._outstanding.clear()
            self._settled.clear()
        channel = self._broker.call("open a channel", conn.channel)
        self._broker.call("set prefetch", partial(channel.basic_qos, prefetch_count=window))
        self._window = window
        self._broker.call(
            f"consume from {self.config.queue!r}",
            lambda: channel.basic_consume(self.config.queue, self._on_delivery, auto_ack=False),
        )
        self._consumer = channel

    def _fill(self, wanted: int, deadline: float) -> None:
        self._ensure_consumer(wanted)
        self._broker.call("receive", lambda: self._broker.conn.process_data_events(time_limit=0))
        while not self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._broker.call(
                "receive", partial(self._broker.conn.process_data_events, time_limit=remaining)
            )
        # The broker streams a prefetch window in several socket reads: take what has
        # arrived by now, without waiting for more.
        while len(self._buffer) < wanted:
            before = len(self._buffer)
            self._broker.call(
                "receive", lambda: self._broker.conn.process_data_events(time_limit=0)
            )
            if len(self._buffer) == before:
                return

    def read(self, max_records: int, wait: float = 0.0) -> list[Delivery]:
        deadline = time.monotonic() + wait
        self._broker.retrying("receive", lambda: self._fill(max_records, deadline))
        deliveries: list[Delivery] = []
        while self._buffer and len(deliveries) < max_records:
            tag, redelivered, body = self._buffer.popleft()
            self._handed.add(tag)
            deliveries.append(self._delivery(self._broker.generation, tag, redelivered, body))
        return deliveries

    def _delivery(self, generation: int, tag: int, redelivered: bool, body: bytes) -> Delivery:
        position = f"rabbitmq:{self.config.queue}#{tag}"
        token = (generation, tag)
        try:
            record = decode_json(body, source=position)
        except RecordError as exc:
            return Delivery(None, body, token, position, error=exc, redelivered=redelivered)
        return Delivery(record, body, token, position, redelivered=redelivered)

    def _current_tags(self, deliveries: Sequence[Delivery], action: str) -> set[int]:
        tags = {
            tag
            for generation, tag in (d.token for d in deliveries)
            if generation == self._broker.generation and self._broker.conn is not None
        }
        stale = len(deliveries) - len(tags)
        if stale:
            logger.info(
                "%s: %d deliveries to %s came from a closed connection; the broker redelivers them",
                self.name,
                stale,
                action,
            )
        return tags & self._handed

    def _settle(self, tags: set[int], action: str, send: Callable[[int, bool], None]) -> None:
        """Settle ``tags``: one ``multiple`` frame for a leading run, then one per tag."""
        last = None
        while self._outstanding and (
            self._outstanding[0] in tags or self._outstanding[0] in self._settled
        ):
            tag = self._outstanding.popleft()
            self._settled.discard(tag)
            if tag in tags:
                tags.discard(tag)
                self._handed.discard(tag)
                last = tag
        if last is not None:
            self._broker.call(action, lambda: send(last, True))
        for tag in sorted(tags):
            self._broker.call(action, partial(send, tag, False))
            self._settled.add(tag)
            self._handed.discard(tag)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        tags = self._current_tags(deliveries, "ack")
        if tags:
            channel = self._consumer
            self._settle(tags, "ack", lambda t, m: channel.basic_ack(t, multiple=m))

    def nack(self, deliveries: Sequence[Delivery], delay: float = 0.0) -> None:
        """Requeue at once; RabbitMQ has no delayed redelivery, so ``delay`` is ignored.

        Prefetched records not yet handed out are requeued with them, so that the broker
        puts everything back in its original order and nacked records come first."""
        tags = self._current_tags(deliveries, "nack")
        if tags:
            for tag, _redelivered, _body in self._buffer:
                tags.add(tag)
                self._handed.add(tag)
            self._buffer.clear()
            channel = self._consumer
            self._settle(tags, "nack", lambda t, m: channel.basic_nack(t, multiple=m, requeue=True))

    def quarantine(self, deliveries: Sequence[Delivery], reason: str) -> None:
        tags = self._current_tags(deliveries, "quarantine")
        live = [
            d for d in deliveries if d.token[1] in tags and d.token[0] == self._broker.generation
        ]
        if not live:
            return
        stamp = datetime.now(UTC).isoformat()
        messages = [
            (
                d.raw,
                pika.BasicProperties(
                    delivery_mode=_PERSISTENT,
                    headers={"reason": reason, "position": d.position, "time": stamp},
                ),
            )
            for d in live
        ]
        queue = self.config.dead_letter_queue
        generation = self._broker.generation
        self._broker.publish(queue, messages, f"publish to {queue!r}", declare=True)
        if generation == self._broker.generation:
            self.ack(live)

    # -- inspection ------------------------------------------------------------------------

    def backlog(self) -> Backlog:
        """Visible: the broker's ready count plus what this object prefetched and has not
        returned yet. In flight: what ``read`` returned and is not settled (other
        consumers' unacked messages are not counted)."""

        def count() -> int:
            self._broker.open()
            ok = self._broker.call(
                f"count {self.config.queue!r}",
                lambda: self._broker.publisher.queue_declare(self.config.queue, passive=True),
            )
            return int(ok.method.message_count)

        waiting = self._broker.retrying("count", count)
        return Backlog(visible=waiting + len(self._buffer), in_flight=len(self._handed))

    def _browse(self, queue: str, limit: int | None) -> Iterator[tuple[int, Any, bytes]]:
        conn = self._broker.retrying("connect", self._broker.open)
        channel = self._broker.call("open a channel", conn.channel)
        try:
            try:
                self._broker.call(
                    f"find {queue!r}",
                    lambda: channel.queue_declare(queue, passive=True),
                    side_channel=True,
                )
            except ConfigError:
                return  # the queue does not exist: nothing to show
            taken = 0
            while limit is None or taken < limit:
                method, properties, body = self._broker.call(
                    f"look at {queue!r}", lambda: channel.basic_get(queue, auto_ack=False)
                )
                if method is None:
                    return
                taken += 1
                yield method.delivery_tag, properties, body
        finally:
            if channel.is_open:
                # Closing the channel requeues everything looked at, in its original place.
                self._broker.call("close a channel", channel.close)

    def peek(self, limit: int | None = None) -> Iterator[Delivery]:
        """Waiting records, without consuming them. They come back marked redelivered.

        Records this spool object has prefetched but not yet returned from ``read`` are
        held by its consumer and not shown."""
        for tag, _properties, body in self._browse(self.config.queue, limit):
            yield self._delivery(_PEEK_GENERATION, tag, False, body)

    def quarantined(self, limit: int | None = None) -> Iterator[QuarantinedItem]:
        for tag, properties, body in self._browse(self.config.dead_letter_queue, limit):
            headers = properties.headers or {}
            yield QuarantinedItem(
                reason=_text(headers.get("reason"), "unknown"),
                position=_text(headers.get("position"), f"rabbitmq:{self.config.queue}#?{tag}"),
                raw=body,
                quarantined_at=_text(headers.get("time"), ""),
            )

    def delete_queues(self) -> None:
        """Delete the queue and its quarantine queue with everything in them (tests, benches)."""
        self._broker.open()
        for queue in (self.config.queue, self.config.dead_letter_queue):
            self._broker.call(
                f"delete {queue!r}", partial(self._broker.publisher.queue_delete, queue)
            )
        self.close()

    def close(self) -> None:
        """Close the connection; the broker requeues every unacked delivery."""
        self._handed.clear()
        self._broker.drop()


def _text(value: object, default: str) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return default if value is None else str(value)


def from_url(address: str, **options: Any) -> RabbitMQSpool:
    """``amqp(s)://user:pass@host:port/vhost?queue=NAME`` (or ``queue=`` as an option)."""
    return RabbitMQSpool(config_from_url(address, **options))
