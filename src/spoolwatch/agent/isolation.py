"""A server error that repeats: the service's fault, or some records'?

A merged request that carries one record the destination cannot fold fails with a 5xx every
time; retried as an outage it would hold every record behind it for ever. So the channel
counts the attempts of its batch that fail with a *record-shaped* server error
(:func:`is_record_error`: a 5xx other than 502/503/504, without ``Retry-After`` — those say
the service or a proxy before it is down or overloaded, and are always waited for). After
``retry.server_error_attempts`` of them in a row (:class:`ServerErrorStreak`), and only if
the destination answers otherwise — some records of the batch were settled meanwhile, or
the sink's probe (:meth:`~spoolwatch.sinks.base.Sink.answers`) answers — the records still
pending are bisected (:func:`isolate`): a part that is accepted is done, a part that fails
so is split, and a record that fails so alone is rejected with the destination's answer
(status and the start of its body) as the reason, for the channel to quarantine. Any other
failure on the way (connection, timeout, 429, 503, auth) ends the search: the records not
settled are retried with back-off as before, and nothing is quarantined on its account.

Nothing here runs on the hot path: a send that succeeds never probes or bisects.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from spoolwatch.errors import DestinationUnavailable
from spoolwatch.records import Record
from spoolwatch.sinks.base import Rejection, SendResult, Sink

__all__ = ["ServerErrorStreak", "is_record_error", "isolate"]

#: Bad gateway, unavailable, gateway timeout: the service (or a proxy) is not there.
_OUTAGE_5XX = frozenset({502, 503, 504})


def is_record_error(result: SendResult) -> bool:
    """Whether the send failed with a server error that may be the records' doing."""
    failure = result.failure
    return (
        failure is not None
        and result.failure_kind == "http_5xx"
        and failure.status is not None
        and failure.status not in _OUTAGE_5XX
        and failure.retry_after is None
    )


class ServerErrorStreak:
    """Consecutive attempts of one batch that failed with a record-shaped server error."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        #: Whether the destination settled some records of the batch during the streak.
        self.answered = False

    def repeats(self, result: SendResult) -> bool:
        """Count ``result`` (a failed attempt); True once the streak reaches the limit."""
        if is_record_error(result):
            self.count += 1
            self.answered = self.answered or bool(result.accepted or result.rejected)
        else:
            self.reset()
        return self.count >= self.limit

    def reset(self) -> None:
        """Start counting again (after an isolation, or a failure of another kind)."""
        self.count = 0
        self.answered = False


def isolate(
    sink: Sink,
    records: Sequence[Record],
    failure: tuple[DestinationUnavailable, str],
    *,
    stop: Callable[[], bool],
) -> SendResult:
    """Bisect ``records`` (module docstring); the outcome by index into ``records``.

    ``failure`` (the streak's last) is reported when ``stop()`` ends the search early, so
    the records not settled are given back rather than forgotten.
    """
    outcome = SendResult()
    parts: deque[list[int]] = deque([list(range(len(records)))])
    while parts:
        if stop():
            outcome.failure, outcome.failure_kind = failure
            break
        part = parts.popleft()
        result = sink.send([records[i] for i in part])
        outcome.requests += result.requests
        outcome.rows += result.rows
        outcome.accepted.extend(part[i] for i in result.accepted)
        outcome.rejected.update({part[i]: why for i, why in result.rejected.items()})
        if result.failure is None:
            continue
        if not is_record_error(result):
            outcome.failure, outcome.failure_kind = result.failure, result.failure_kind
            break
        done = result.done()
        rest = [index for position, index in enumerate(part) if position not in done]
        if len(rest) == 1:
            outcome.rejected[rest[0]] = _fails_alone(result.failure)
        elif rest:
            middle = (len(rest) + 1) // 2
            parts.appendleft(rest[middle:])
            parts.appendleft(rest[:middle])
    return outcome


def _fails_alone(failure: DestinationUnavailable) -> Rejection:
    body = failure.body
    return Rejection(
        f"{failure} for this record alone, while the destination answers other requests"
        + (f": {body}" if body else ""),
        status=failure.status,
        body=body,
        request_id=failure.request_id,
    )
