"""Where scaling code gets the time from.

Leases, the circuit breaker and the hand-off deadline all depend on the time; they take it
from a :class:`Clock` so tests and the simulator can drive it. Time is epoch seconds as a
float, the unit DynamoDB TTL attributes use (rounded up to an integer there).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

from spoolwatch.errors import ConfigError

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now() -> float`` (epoch seconds)."""

    def now(self) -> float:
        """The current time in epoch seconds."""
        ...


class SystemClock:
    """The wall clock (``time.time()``)."""

    def now(self) -> float:
        """The current wall-clock time in epoch seconds."""
        return time.time()


class ManualClock:
    """A clock that moves only when told to; safe to share between threads."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """The time this clock was last set or advanced to."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ConfigError(f"ManualClock.advance: seconds must be >= 0, got {seconds}")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        """Jump to ``when`` epoch seconds; jumping backwards is refused."""
        with self._lock:
            if when < self._now:
                raise ConfigError(f"ManualClock.set: cannot go back from {self._now} to {when}")
            self._now = float(when)
