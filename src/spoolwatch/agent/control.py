"""When to stop reading and when to give up on the batch in hand; back-off delays."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from spoolwatch.agent.config import RetryConfig
from spoolwatch.spools.retry import Backoff, Uniform

__all__ = ["StopControl", "backoff_delay"]

#: Retry-After values above this are not waited for in one go (the agent re-checks).
MAX_RETRY_AFTER = 300.0


def backoff_delay(
    attempt: int,
    retry: RetryConfig,
    retry_after: float | None = None,
    rng: Uniform | None = None,
) -> float:
    """Exponential back-off with jitter for the ``attempt``-th retry (1-based).

    ``initial * multiplier**(attempt-1)``, capped at ``max_seconds``, spread by ``±jitter``;
    a server's ``Retry-After`` is a floor (itself capped at 300 s).
    """
    backoff = Backoff(
        initial=retry.initial_seconds,
        multiplier=retry.multiplier,
        cap=retry.max_seconds,
        jitter=retry.jitter,
    )
    delay = backoff.delay(attempt, rng)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


class StopControl:
    """Shared by the agent and its channel readers.

    * :meth:`request_stop` — stop reading; the batch in hand may still be retried for
      ``grace`` seconds (a second request gives up at once).
    * a ``deadline`` callable (seconds remaining, e.g. from Lambda's context): reading
      stops when at most ``margin`` seconds remain, the batch in hand is given up (left
      un-acked) when at most ``margin / 3`` remain.
    """

    def __init__(
        self,
        *,
        grace: float,
        deadline: Callable[[], float] | None = None,
        margin: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._grace = grace
        self._deadline = deadline
        self._margin = margin
        self._clock = clock
        self._stop = threading.Event()
        self._give_up_at: float | None = None
        self._lock = threading.Lock()
        self.reason: str | None = None

    def request_stop(self, reason: str = "stop") -> None:
        """Stop reading; a repeated request gives up on batches in hand now."""
        with self._lock:
            now = self._clock()
            if self._stop.is_set():
                self._give_up_at = now
                return
            self.reason = reason
            self._give_up_at = now + self._grace
            self._stop.set()

    def stop_requested(self) -> bool:
        """True once reading should stop (a request, or the deadline is near)."""
        if self._stop.is_set():
            return True
        if self._deadline is not None and self._deadline() <= self._margin:
            self.request_stop("deadline")
            return True
        return False

    def read_wait(self, wait: float) -> float:
        """``wait`` cut to the time left before reading stops: an idle read (a long poll of
        SPOOLWATCH_IDLE_SECONDS) never runs past the deadline's margin."""
        if self._deadline is None:
            return wait
        return max(0.0, min(wait, self._deadline() - self._margin))

    def give_up_by(self, when: float) -> bool:
        """True if retrying until ``when`` (clock time) would pass the point of giving up."""
        if (
            self._deadline is not None
            and self._deadline() - (when - self._clock()) <= self._margin / 3
        ):
            return True
        with self._lock:
            return self._give_up_at is not None and when >= self._give_up_at

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return early (True) if a stop is requested meanwhile."""
        return self._stop.wait(seconds)

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` regardless of stop requests (a retry wait in grace time)."""
        time.sleep(max(0.0, seconds))
