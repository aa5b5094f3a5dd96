"""Repeating an operation that failed for a passing reason: capped exponential back-off.

The spools repeat a transport call a bounded number of times (SQS entries reported as
failed, a RabbitMQ operation after a lost connection). :func:`attempts` numbers the
attempts; the first starts at once and each later one waits :meth:`Backoff.delay` first, so
nothing waits after the last attempt failed. The agent's back-off for a destination that is
down (:func:`spoolwatch.agent.control.backoff_delay`) is the same :class:`Backoff`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Backoff", "Uniform", "attempts"]


class Uniform(Protocol):
    """Where the jitter is drawn from: :class:`random.Random`, or numpy's ``Generator`` (the
    simulator's)."""

    def uniform(self, low: float, high: float, /) -> float: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class Backoff:
    """How long to wait before a repeat: ``initial * multiplier**(repeat-1)``, at most
    ``cap`` seconds, spread by ``±jitter`` (a fraction) so that many clients failing at
    once do not repeat at once."""

    initial: float
    multiplier: float = 2.0
    cap: float = 30.0
    jitter: float = 0.0

    def delay(self, repeat: int, rng: Uniform | None = None) -> float:
        """Seconds to wait before the ``repeat``-th repeat (1-based), never negative."""
        base = min(self.cap, self.initial * self.multiplier ** (repeat - 1))
        # Drawn even without jitter, so a seeded ``rng`` gives the same sequence either way.
        spread = float((rng or random).uniform(-self.jitter, self.jitter))
        return max(0.0, base * (1.0 + spread))


def attempts(
    limit: int,
    backoff: Backoff,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: Uniform | None = None,
) -> Iterator[int]:
    """Attempt numbers ``1..limit``; each but the first is preceded by ``backoff``'s delay."""
    for attempt in range(1, limit + 1):
        if attempt > 1:
            sleep(backoff.delay(attempt - 1, rng))
        yield attempt
