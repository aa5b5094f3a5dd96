"""Custom metrics: count, sum, mean and last value per period, mergeable."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spoolwatch.errors import ConfigError

__all__ = ["CustomMetricAggregate"]


def _seconds(timestamp: float | datetime) -> float:
    return timestamp.timestamp() if isinstance(timestamp, datetime) else float(timestamp)


@dataclass(eq=True)
class CustomMetricAggregate:
    """Values of one custom metric in one period.

    ``last_value`` is the value with the latest timestamp (Unix seconds); on equal
    timestamps the larger value wins, so merging gives the same result in any order.
    """

    count: int = 0
    total: float = 0.0
    last_value: float | None = None
    last_timestamp: float | None = None

    def add(self, value: float, timestamp: float | datetime) -> None:
        """Fold in one value reported at ``timestamp`` (datetime or Unix seconds)."""
        number = float(value)
        seconds = _seconds(timestamp)
        if not (math.isfinite(number) and math.isfinite(seconds)):
            raise ConfigError(
                f"custom metric value and timestamp must be finite, got {value!r} at {timestamp!r}"
            )
        self.count += 1
        self.total += number
        if self._is_later(seconds, number):
            self.last_value, self.last_timestamp = number, seconds

    def _is_later(self, seconds: float, value: float) -> bool:
        if self.last_timestamp is None or self.last_value is None:
            return True
        return (seconds, value) > (self.last_timestamp, self.last_value)

    @property
    def mean(self) -> float | None:
        """Mean of the values, ``None`` when empty."""
        return self.total / self.count if self.count else None

    def merge(self, other: CustomMetricAggregate) -> CustomMetricAggregate:
        """A new aggregate holding both."""
        merged = CustomMetricAggregate(
            self.count + other.count,
            self.total + other.total,
            self.last_value,
            self.last_timestamp,
        )
        if (
            other.last_value is not None
            and other.last_timestamp is not None
            and (merged._is_later(other.last_timestamp, other.last_value))
        ):
            merged.last_value, merged.last_timestamp = other.last_value, other.last_timestamp
        return merged

    def __add__(self, other: CustomMetricAggregate) -> CustomMetricAggregate:
        return self.merge(other)

    def to_dict(self) -> dict[str, Any]:
        """``{"count", "sum", "mean", "last", "lastTimestamp"}`` (``mean`` is derived)."""
        return {
            "count": self.count,
            "sum": self.total,
            "mean": self.mean,
            "last": self.last_value,
            "lastTimestamp": self.last_timestamp,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CustomMetricAggregate:
        """Rebuild from :meth:`to_dict` output; :class:`ConfigError` when malformed."""
        try:
            last, at = data.get("last"), data.get("lastTimestamp")
            return cls(
                int(data["count"]),
                float(data["sum"]),
                None if last is None else float(last),
                None if at is None else float(at),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed custom metric aggregate: {exc!r}") from exc
