"""One channel reader: drains one spool into the sink, in its own thread.

Per batch (in spool order): undecodable → quarantine; invalid payload → quarantine; no
deployment id → quarantine; ``PING_MSG`` → count, ack; unknown or schema-less type →
count, ack (or quarantine, by config); id already delivered → count as duplicate, ack;
redelivered records (the spool handed them out before) the destination says it already has
→ count as duplicate, ack (one question per read, only when something was redelivered); the
rest go to the sink. Accepted records are acked, rejected ones quarantined with the reason,
and on a transient failure the remainder stays in hand and is offered again after a
back-off (visibility extended meanwhile) — never acked early. A server error that repeats
``retry.server_error_attempts`` times while the destination answers otherwise is narrowed
down to the records that fail alone, which are quarantined with the destination's answer
(:mod:`spoolwatch.agent.isolation`); the rest flow on (the sending side is
:mod:`spoolwatch.agent.sending`). An auth failure (401/403) stops the
agent: the channel's error says what to check, the records in hand are given back, none is
quarantined. The reader survives spool failures: it logs, backs off, closes and reopens the
spool.

Reading overlaps sending: while one batch's records are being sent (in a thread of the
channel's own), the reader reads and sorts the next; it then waits for the first batch, acks
what was accepted and quarantines what was refused, and only then hands the second to the
sender. So at most two batches are in hand, every spool call is made on the reader's
thread (pika's connections are not thread-safe), and while a batch is being retried the
batch read after it is held too (its visibility extended with it) and sent next. A read
made while a batch is being sent does not wait for records, so acks are not held up by an
idle spool.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from spoolwatch.agent.config import AgentConfig, ChannelConfig
from spoolwatch.agent.control import StopControl
from spoolwatch.agent.dedupe import SeenIds
from spoolwatch.agent.sending import BatchSender
from spoolwatch.agent.stats import ChannelStats
from spoolwatch.errors import ConfigError, InvalidRecord, MissingExtra, SpoolUnavailable
from spoolwatch.records import ROUTABLE_TYPES, DataType, validate_record
from spoolwatch.sinks.base import SendResult, Sink
from spoolwatch.sinks.config import display_address
from spoolwatch.spools.base import Delivery, Spool

__all__ = ["ChannelReader"]

logger = logging.getLogger(__name__)

_SPOOL_RETRY_CAP = 30.0


@dataclass
class _Sending:
    """A batch whose records are with the sender: its first attempt, and second copies to
    settle after it."""

    pending: list[Delivery]
    repeats: list[Delivery]
    attempt: Future[SendResult] | None = None
    holding: list[Delivery] = field(default_factory=list)


class ChannelReader:
    """Reads one channel until told to stop (or until empty); see the module docstring."""

    def __init__(
        self,
        channel: ChannelConfig,
        *,
        config: AgentConfig,
        sink: Sink,
        seen: SeenIds,
        control: StopControl,
        stats: ChannelStats,
        until_empty: bool,
        open_spool: Callable[..., Spool],
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self._config = config
        self._sink = sink
        self._seen = seen
        self._control = control
        self.stats = stats
        self._until_empty = until_empty
        self._open = open_spool
        self._clock = clock
        self._spool: Spool | None = None
        self._sending: _Sending | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._sender = BatchSender(
            channel.name,
            config=config,
            sink=sink,
            seen=seen,
            control=control,
            stats=stats,
            rng=rng or random.Random(),
            clock=clock,
        )
        self._last_backlog = 0.0

    @property
    def fatal(self) -> str | None:
        """Why the channel stopped for good (misconfigured, credentials refused), else None."""
        return self._sender.fatal

    # -- life cycle ---------------------------------------------------------------------

    def run(self) -> None:
        """The reader's loop: until stopped, drained (``until_empty``) or misconfigured."""
        failures = 0
        try:
            while not self._control.stop_requested():
                try:
                    if not self._step():
                        break
                    failures = 0
                except (ConfigError, MissingExtra) as exc:
                    self._sender.fatal = str(exc)
                    logger.error("channel %s cannot run: %s", self.channel.name, exc)
                    break
                except Exception as exc:  # the reader never dies from a spool failure
                    failures += 1
                    self._spool_failed(exc, failures)
        finally:
            self._finish()

    def _step(self) -> bool:
        spool = self._ensure_spool()
        self._refresh_backlog(spool)
        batching = self._config.batching
        sending = self._sending is not None
        # While a batch is being sent, take what is there now: waiting would hold its acks.
        wait = 0.0 if sending else self._control.read_wait(batching.wait_seconds)
        self.stats.reading_since = self._clock()
        try:
            deliveries = spool.read(batching.max_records, wait=wait)
        finally:
            self.stats.reading_since = None
        if not deliveries and sending:
            self._settle(spool)
            return True
        if not deliveries:
            self.stats.drained = True
            self.stats.last_read_full = False
            # A read cut short by the deadline says nothing about an empty queue: go round
            # once more, where the deadline stops the reader.
            return not self._until_empty or wait < batching.wait_seconds
        self.stats.drained = False
        # A full read: more may be waiting than the queue's (lagging) counts show.
        self.stats.last_read_full = len(deliveries) >= batching.max_records
        self.stats.add(read=len(deliveries))
        self._handle(spool, deliveries)
        return True

    def _ensure_spool(self) -> Spool:
        if self._spool is None:
            self._spool = self._open(self.channel.address, **self.channel.options)
            logger.info(
                "channel %s: reading %s", self.channel.name, display_address(self.channel.address)
            )
        return self._spool

    def _spool_failed(self, exc: Exception, failures: int) -> None:
        kind = "spool" if isinstance(exc, SpoolUnavailable) else "spool_error"
        self.stats.fail(kind, f"{type(exc).__name__}: {exc}")
        delay = min(_SPOOL_RETRY_CAP, 0.5 * 2 ** min(failures - 1, 6))
        log = logger.warning if isinstance(exc, SpoolUnavailable) else logger.exception
        log(
            "channel %s: spool failed (%s: %s); reopening in %.1f s",
            self.channel.name,
            type(exc).__name__,
            exc,
            delay,
        )
        self._close_spool()
        self._control.wait(delay)

    def _close_spool(self) -> None:
        # Deliveries of a closed spool go back by themselves (redelivery, restart).
        self._drop_sending()
        self._sender.held.clear()
        spool, self._spool = self._spool, None
        if spool is None:
            return
        try:
            spool.close()
        except Exception as exc:  # a broken connection may fail to close; it is gone anyway
            logger.debug("closing spool of %s failed: %s", self.channel.name, exc)

    def _finish(self) -> None:
        if self._sending is not None and self._spool is not None:
            try:
                self._settle(self._spool)
            except Exception as exc:  # the spool broke: its records come back by themselves
                logger.warning(
                    "channel %s: settling the last batch failed: %s", self.channel.name, exc
                )
        self._drop_sending()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._sender.held and self._spool is not None:
            # Dry run: give back everything that was read so nothing is lost.
            try:
                self._spool.nack(self._sender.held)
            except Exception as exc:
                logger.warning(
                    "channel %s: giving back dry-run records failed: %s", self.channel.name, exc
                )
        self._sender.held.clear()
        if self._spool is not None:
            self._refresh_backlog(self._spool, force=True)
        self._close_spool()

    def _refresh_backlog(self, spool: Spool, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_backlog < self._config.stats_interval_seconds / 2:
            return
        self._last_backlog = now
        try:
            backlog = spool.backlog()
        except Exception as exc:
            logger.debug("backlog of %s unavailable: %s", self.channel.name, exc)
            return
        with self.stats.lock:
            self.stats.backlog, self.stats.in_flight = backlog.visible, backlog.in_flight

    # -- one batch ------------------------------------------------------------------------

    def _handle(self, spool: Spool, deliveries: Sequence[Delivery]) -> None:
        to_send: list[Delivery] = []
        to_ack: list[Delivery] = []
        repeats: list[Delivery] = []
        batch_ids: set[str] = set()
        for delivery in deliveries:
            verdict = self._classify(delivery, batch_ids)
            if verdict == "send":
                to_send.append(delivery)
                if delivery.record_id is not None:
                    batch_ids.add(delivery.record_id)
            elif verdict == "ack":
                to_ack.append(delivery)
            elif verdict == "repeat":
                repeats.append(delivery)
            else:
                self._sender.quarantine(spool, [delivery], verdict)
        known = self._already_delivered(to_send)
        if known:
            to_ack.extend(d for d in to_send if d.record_id in known)
            to_send = [d for d in to_send if d.record_id not in known]
        if to_ack:
            self._sender.ack(spool, to_ack)
        # The batch before this one first: its acks, its retries (holding this one's records).
        self._settle(spool, holding=to_send)
        if self.fatal is not None:
            if to_send or repeats:
                self._sender.give_back(spool, to_send + repeats, "the channel stopped")
            return
        if to_send or repeats:
            sending = _Sending(to_send, repeats)
            if to_send:
                sending.attempt = self._sender_pool().submit(
                    self._sink.send, [d.record for d in to_send if d.record is not None]
                )
            self._sending = sending

    def _sender_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"send-{self.channel.name}")
        return self._pool

    def _settle(self, spool: Spool, holding: list[Delivery] | None = None) -> None:
        """Wait for the batch being sent, ack what was accepted, quarantine what was refused,
        retry the rest (extending ``holding`` too, the records read meanwhile)."""
        sending, self._sending = self._sending, None
        if sending is None:
            return
        if sending.attempt is not None:
            self._sender.send(spool, sending.pending, sending.attempt.result(), holding or [])
        if sending.repeats:
            self._settle_repeats(spool, sending.repeats)

    def _drop_sending(self) -> None:
        """Forget the batch being sent (its spool is gone): wait for its attempt and remember
        what was accepted, so the same records read again are acked without a send."""
        sending, self._sending = self._sending, None
        if sending is None or sending.attempt is None:
            return
        try:
            result = sending.attempt.result()
        except Exception:  # the sink broke its promise; the records come back anyway
            return
        self._seen.add_all(sending.pending[i].record_id for i in result.accepted)

    def _settle_repeats(self, spool: Spool, repeats: list[Delivery]) -> None:
        """Second copies of a record read in the same batch (at-least-once transports can
        hand out one message twice): acked once the first copy was accepted — acking
        earlier could delete the message while its first copy is still unsent — and given
        back otherwise."""
        accepted = [d for d in repeats if d.record_id in self._seen]
        if accepted:
            self.stats.add(duplicates=len(accepted))
            self._sender.ack(spool, accepted)
        rest = [d for d in repeats if d.record_id not in self._seen]
        if rest:
            self._sender.safely(spool.nack, rest)

    def _already_delivered(self, to_send: Sequence[Delivery]) -> set[str]:
        """Ids of redelivered records the destination already has (one question per read,
        none when nothing was redelivered); counted as duplicates and remembered."""
        asked = [d.record_id for d in to_send if d.redelivered and d.record_id is not None]
        if not asked:
            return set()
        try:
            known = self._sink.known_record_ids(asked) & set(asked)
        except Exception as exc:  # a sink breaking its promise must not stop the reader
            logger.warning(
                "channel %s: asking which records the destination has failed (%s: %s)",
                self.channel.name,
                type(exc).__name__,
                exc,
            )
            return set()
        if known:
            logger.info(
                "channel %s: %d redelivered record(s) already at the destination; acked",
                self.channel.name,
                len(known),
            )
            self.stats.add(duplicates=len(known))
            self._seen.add_all(known)
        return known

    def _classify(self, delivery: Delivery, batch_ids: set[str]) -> str:
        """``send``, ``ack``, ``repeat`` (of a record earlier in this batch) or a quarantine
        reason."""
        record = delivery.record
        if record is None or delivery.error is not None:
            return f"undecodable record at {delivery.position}: {delivery.error}"
        data_type = record.known_type
        if data_type == DataType.PING_MSG:
            self.stats.add(skipped=1)
            return "ack"
        if data_type not in ROUTABLE_TYPES:
            self.stats.add(skipped=1)
            logger.debug(
                "skipping %s record %s at %s", record.type_name, record.id, delivery.position
            )
            if self._config.quarantine.unknown_types == "quarantine":
                return f"unsupported data type {record.type_name} at {delivery.position}"
            return "ack"
        try:
            validate_record(record)
        except InvalidRecord as exc:
            return f"invalid record at {delivery.position}: {exc}"
        if not record.deployment_id:
            return f"record {record.id} at {delivery.position} has no deployment id"
        if record.id is not None and record.id in self._seen:
            self.stats.add(duplicates=1)
            return "ack"
        if record.id is not None and record.id in batch_ids:
            return "repeat"
        return "send"
