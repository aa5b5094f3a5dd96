"""The agent's counters: per channel, totals, rates, and the stats line."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChannelStats", "StatsSnapshot"]


@dataclass
class ChannelStats:
    """Counters of one channel; written by its reader thread, read under the lock."""

    name: str
    read: int = 0
    sent: int = 0
    rows: int = 0
    requests: int = 0
    quarantined: int = 0
    skipped: int = 0
    duplicates: int = 0
    retries: int = 0
    unacked: int = 0
    backlog: int | None = None
    in_flight: int | None = None
    drained: bool = False
    last_read_full: bool = False
    #: When the read in progress started (the agent's clock), None between reads.
    reading_since: float | None = None
    failures: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        """Add to counters by name."""
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def fail(self, kind: str, message: str) -> None:
        """Count a failure of ``kind`` and keep its message."""
        with self.lock:
            self.failures[kind] += 1
            self.last_error = message

    def as_dict(self) -> dict[str, Any]:
        """A copy of the counters."""
        with self.lock:
            return {
                "read": self.read,
                "sent": self.sent,
                "rows": self.rows,
                "requests": self.requests,
                "quarantined": self.quarantined,
                "skipped": self.skipped,
                "duplicates": self.duplicates,
                "retries": self.retries,
                "unacked": self.unacked,
                "backlog": self.backlog,
                "in_flight": self.in_flight,
                "drained": self.drained,
                "last_read_full": self.last_read_full,
                "failures": dict(self.failures),
                "last_error": self.last_error,
            }


@dataclass(frozen=True)
class StatsSnapshot:
    """Counters of every channel at one moment, plus rates since the previous snapshot."""

    elapsed: float
    channels: dict[str, dict[str, Any]]
    records_per_second: float
    rows_per_second: float

    def total(self, key: str) -> int:
        """Sum of one counter over the channels."""
        return sum(int(c[key] or 0) for c in self.channels.values())

    def line(self) -> str:
        """The one-line summary the agent logs every interval."""
        backlog = " ".join(
            f"{name}={c['backlog'] if c['backlog'] is not None else '?'}"
            for name, c in self.channels.items()
        )
        return (
            f"{self.records_per_second:.0f} records/s, {self.rows_per_second:.0f} rows/s, "
            f"sent {self.total('sent')}, quarantined {self.total('quarantined')}, "
            f"skipped {self.total('skipped')}, duplicates {self.total('duplicates')}, "
            f"retries {self.total('retries')}, backlog {backlog}"
        )
