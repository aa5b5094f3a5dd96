"""The sending side of one channel: a batch's send settled, its failures retried.

:class:`BatchSender` takes the result of a batch's first attempt and sees it through: acks
what was accepted, quarantines what was refused (with the reason and the request id), and on
a transient failure keeps the rest in hand and sends it again after a back-off, extending its
visibility (and that of the records read meanwhile) — never acking early. A server error that
repeats ``retry.server_error_attempts`` times while the destination answers otherwise is
narrowed down to the records that fail alone (:mod:`spoolwatch.agent.isolation`); an auth
failure (401/403) stops the agent and gives the records back. Records it cannot finish before
the stop's deadline are given back un-acked. It also owns what the channel does to
deliveries on the spool (ack, quarantine, give back), so a dry run can hold them instead.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from spoolwatch.agent.config import AgentConfig
from spoolwatch.agent.control import StopControl, backoff_delay
from spoolwatch.agent.dedupe import SeenIds
from spoolwatch.agent.isolation import ServerErrorStreak, isolate
from spoolwatch.agent.stats import ChannelStats
from spoolwatch.errors import DestinationUnavailable
from spoolwatch.sinks.base import SendResult, Sink
from spoolwatch.spools.base import Delivery, Spool

__all__ = ["BatchSender"]

logger = logging.getLogger(__name__)

#: How long records stay in flight while their repeating server error is narrowed down.
_ISOLATION_SECONDS = 120.0


class BatchSender:
    """Settles and retries one channel's batches; see the module docstring."""

    def __init__(
        self,
        channel_name: str,
        *,
        config: AgentConfig,
        sink: Sink,
        seen: SeenIds,
        control: StopControl,
        stats: ChannelStats,
        rng: random.Random,
        clock: Callable[[], float],
    ) -> None:
        self._name = channel_name
        self._config = config
        self._sink = sink
        self._seen = seen
        self._control = control
        self._stats = stats
        self._rng = rng
        self._clock = clock
        #: Dry run: the deliveries that would have been acked or quarantined.
        self.held: list[Delivery] = []
        #: Why the channel stopped for good (its reader's ``fatal``).
        self.fatal: str | None = None

    def quarantine(
        self,
        spool: Spool,
        deliveries: list[Delivery],
        reason: str,
        request_id: str | None = None,
    ) -> None:
        """Move ``deliveries`` to the spool's quarantine with ``reason`` (held in a dry run)."""
        logger.warning(
            "channel %s: quarantining %d record(s): %s",
            self._name,
            len(deliveries),
            reason,
            extra=_naming(request_id),
        )
        self._stats.add(quarantined=len(deliveries))
        if self._config.dry_run:
            self.held.extend(deliveries)
            return
        spool.quarantine(deliveries, reason)

    def ack(self, spool: Spool, deliveries: list[Delivery]) -> None:
        """Ack ``deliveries`` (held in a dry run)."""
        if self._config.dry_run:
            self.held.extend(deliveries)
            return
        spool.ack(deliveries)

    def send(
        self, spool: Spool, pending: list[Delivery], result: SendResult, holding: list[Delivery]
    ) -> None:
        """Settle ``result``, then retry the records not done until they are (see the
        module docstring: back-off, isolation of a repeating server error, auth stop)."""
        attempt = 0
        streak = ServerErrorStreak(self._config.retry.server_error_attempts)
        while True:
            pending = self._settle_result(spool, pending, result)
            failure, kind = result.failure, result.failure_kind or "unavailable"
            if failure is None:
                return
            attempt += 1
            self._stats.fail(kind, str(failure))
            if kind == "auth":
                self._stop_refused(spool, pending, failure)
                return
            if pending and streak.repeats(result) and (streak.answered or self._sink.answers()):
                streak.reset()
                result = self._isolate(spool, pending, (failure, kind), holding)
                continue
            if not pending or not self._wait_to_retry(spool, pending, attempt, failure, holding):
                return
            result = self._sink.send([d.record for d in pending if d.record is not None])

    def _settle_result(
        self, spool: Spool, pending: list[Delivery], result: SendResult
    ) -> list[Delivery]:
        """Ack what ``result`` accepted, quarantine what it rejected; the rest of
        ``pending``."""
        accepted = [pending[i] for i in sorted(result.accepted)]
        self._seen.add_all(d.record_id for d in accepted)
        self._stats.add(sent=len(accepted), rows=result.rows, requests=result.requests)
        if accepted:
            self.ack(spool, accepted)
        for index in sorted(result.rejected):
            why = result.rejected[index]
            self.quarantine(spool, [pending[index]], why.reason, why.request_id)
        done = result.done()
        return [d for i, d in enumerate(pending) if i not in done]

    def _isolate(
        self,
        spool: Spool,
        pending: list[Delivery],
        failure: tuple[DestinationUnavailable, str],
        holding: list[Delivery],
    ) -> SendResult:
        """Find the records of ``pending`` that fail alone (:mod:`spoolwatch.agent.isolation`)."""
        logger.warning(
            "channel %s: %d record(s) failed %d times (%s) while the destination answers; "
            "looking for the records that fail alone",
            self._name,
            len(pending),
            self._config.retry.server_error_attempts,
            failure[0],
            extra=_naming(failure[0].request_id),
        )
        self.safely(spool.extend, pending + holding, _ISOLATION_SECONDS)
        return isolate(
            self._sink,
            [d.record for d in pending if d.record is not None],
            failure,
            stop=lambda: self._control.give_up_by(self._clock()),
        )

    def _stop_refused(
        self, spool: Spool, pending: list[Delivery], failure: DestinationUnavailable
    ) -> None:
        """The destination refused the credentials: stop (every channel shares them) and
        give the records back; they are not the records' fault."""
        if self.fatal is None:
            self.fatal = str(failure)
            logger.error(
                "channel %s: stopping: %s",
                self._name,
                failure,
                extra=_naming(failure.request_id),
            )
        self._control.request_stop("auth")
        if pending:
            self.give_back(spool, pending, "the destination refused the API token")

    def _wait_to_retry(
        self,
        spool: Spool,
        pending: list[Delivery],
        attempt: int,
        failure: DestinationUnavailable,
        holding: list[Delivery],
    ) -> bool:
        """Back off before the next attempt; False (records given back) when giving up.
        ``holding`` (records read while these were sent) stay in hand: extended, not sent."""
        reason = str(failure)
        delay = backoff_delay(attempt, self._config.retry, failure.retry_after, self._rng)
        end = self._clock() + delay
        if self._control.give_up_by(end) or self._control.give_up_by(self._clock()):
            self.give_back(spool, pending, reason)
            return False
        logger.warning(
            "channel %s: destination unavailable (%s); %d record(s) kept, retry %d in %.2f s",
            self._name,
            reason,
            len(pending),
            attempt,
            delay,
            extra=_naming(failure.request_id),
        )
        self._stats.add(retries=1)
        self.safely(spool.extend, pending + holding, delay + 30.0)
        while (remaining := end - self._clock()) > 0:
            if self._control.give_up_by(self._clock()):
                self.give_back(spool, pending, reason)
                return False
            time.sleep(min(0.05, remaining))
        return True

    def give_back(self, spool: Spool, pending: list[Delivery], reason: str) -> None:
        """Nack ``pending`` (counted as un-acked): they stay in the spool."""
        logger.warning(
            "channel %s: stopping with %d record(s) un-acked (%s); they stay in the spool",
            self._name,
            len(pending),
            reason,
        )
        self._stats.add(unacked=len(pending))
        self.safely(spool.nack, pending)

    def safely(self, method: Callable[..., Any], *args: Any) -> None:
        """Call a spool method whose failure only delays the records (logged, not raised)."""
        try:
            method(*args)
        except Exception as exc:  # un-acked records come back anyway
            logger.warning(
                "channel %s: %s failed: %s",
                self._name,
                getattr(method, "__name__", "call"),
                exc,
            )


def _naming(request_id: str | None) -> dict[str, str]:
    """The ``extra`` of a log line about one request: its id, for ``--log-format json``."""
    return {} if request_id is None else {"request_id": request_id}
