"""Where the agents send: a destination with a finite capacity, and its presets.

A :class:`Capacity` accepts at most ``requests_per_second`` requests and
``rows_per_second`` prediction rows in each whole second of simulated time (a fixed
one-second window, as rate limiters that answer ``Retry-After`` with whole seconds count);
a send beyond either answers 429 with ``Retry-After`` = the seconds to the next window,
rounded up (at least 1). A read batch's requests are admitted or refused together (an
approximation: the real agent sends them one after another; a Lambda agent's read of 100
records is one or two requests), and a batch alone larger than a window is admitted when
the window is empty. The agents back off as the real one does
(:func:`spoolwatch.agent.control.backoff_delay`: ``Retry-After`` is a floor under the
exponential back-off) and keep their records: nothing is acked that was not accepted.

Presets (:data:`DESTINATIONS`), from ``docs/performance.md``'s measured figures on the
development machine (2 shared cores, AMD EPYC):

* ``unlimited``: no capacity (the scenarios' default).
* ``sqlite``: one ``spoolwatch serve`` process on SQLite. Requests: 2,851/s, the
  concurrent-clients benchmark's 40 clients of small bodies. Rows: 40,000/s, the real
  stream's best one-agent drain (40,677 prediction rows/s, 3,796 records/s), which kept the
  service's writer busy about three quarters of the time: a floor of its capacity.
* ``postgresql-1``, ``postgresql-2``: one and two service processes on one PostgreSQL.
  Requests: 998/s and 842/s, the medians of the postgres-workers benchmark (a second
  process did not add capacity on two cores); rows: 30,000/s for one process, the real
  stream on PostgreSQL (30,394-31,145 rows/s), times 0.84 for two. More processes on more
  cores were not measured, so there is no preset for them.

DataRobot: its documentation says monitoring data is rate-limited (the deployment's Usage
tab counts "rate-limited" prediction rows; the agent event log reports rate-limit
enforcement) but publishes no ingestion rate, so there is no DataRobot preset; a
:class:`Capacity` of one's own installation's limits can be passed to ``SimParams``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spoolwatch.errors import ConfigError

__all__ = ["DESTINATIONS", "UNLIMITED", "Capacity", "Destination"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Capacity:
    """What a destination accepts per second; ``None`` for no limit."""

    name: str
    summary: str
    requests_per_second: float | None = None
    rows_per_second: float | None = None

    def __post_init__(self) -> None:
        for label, value in (
            ("requests_per_second", self.requests_per_second),
            ("rows_per_second", self.rows_per_second),
        ):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"destination {self.name}: {label} must be > 0, got {value!r}")

    @property
    def limited(self) -> bool:
        """Whether anything is ever refused."""
        return self.requests_per_second is not None or self.rows_per_second is not None


UNLIMITED = Capacity(name="unlimited", summary="no capacity limit")

DESTINATIONS: dict[str, Capacity] = {
    c.name: c
    for c in (
        UNLIMITED,
        Capacity(
            name="sqlite",
            summary="one spoolwatch process on SQLite",
            requests_per_second=2851.0,
            rows_per_second=40_000.0,
        ),
        Capacity(
            name="postgresql-1",
            summary="one spoolwatch process on PostgreSQL",
            requests_per_second=998.0,
            rows_per_second=30_000.0,
        ),
        Capacity(
            name="postgresql-2",
            summary="two spoolwatch processes on one PostgreSQL (2 cores)",
            requests_per_second=842.0,
            rows_per_second=25_200.0,
        ),
    )
}


class Destination:
    """The capacity's state in one run: the current window and what was accepted."""

    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity
        self._window = -1
        self._requests = 0
        self._rows = 0.0
        self.accepted_requests = 0
        self.accepted_rows = 0.0
        #: Sends answered 429.
        self.refused = 0
        #: Accepted requests and rows per whole second (only for a limited capacity).
        self.per_second: dict[int, tuple[int, float]] = {}

    def admit(self, now: float, requests: int, rows: float) -> float | None:
        """Accept ``requests`` carrying ``rows`` at ``now``: ``None``, or the 429's
        ``Retry-After`` seconds."""
        cap = self.capacity
        if not cap.limited:
            self.accepted_requests += requests
            self.accepted_rows += rows
            return None
        window = math.floor(now)
        if window != self._window:
            self._window, self._requests, self._rows = window, 0, 0.0
        fits = (
            cap.requests_per_second is None or self._requests + requests <= cap.requests_per_second
        ) and (cap.rows_per_second is None or self._rows + rows <= cap.rows_per_second)
        if not fits and (self._requests or self._rows):
            self.refused += 1
            return float(max(1, math.ceil(window + 1 - now)))
        self._requests += requests
        self._rows += rows
        self.accepted_requests += requests
        self.accepted_rows += rows
        self.per_second[window] = (self._requests, self._rows)
        return None

    def figures(self) -> dict[str, float | int]:
        """What ``SimResult.extra`` reports of the destination."""
        return {
            "destination_requests": self.accepted_requests,
            "destination_429s": self.refused,
        }
