"""A mergeable histogram of execution times with bounded relative error on quantiles.

Values go into fixed log-spaced buckets: bucket ``i`` holds values in (g^(i-1), g^i] with
g = 1.04, and a quantile is answered with the bucket's centre 2g^i / (g + 1), which is
within (g - 1)/(g + 1) ≈ 2 % of every value in the bucket (the DDSketch construction). The
bucket boundaries do not depend on the data, so two histograms merge by adding counts,
in any order and grouping, and a year of hourly histograms answers p99 as well as one hour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from spoolwatch.errors import ConfigError

__all__ = ["DEFAULT_GAMMA", "LatencyHistogram"]

DEFAULT_GAMMA = 1.04
# Values at or below this (milliseconds) count as zero: log buckets cannot hold 0.
ZERO_THRESHOLD = 1e-6


@dataclass(eq=False)
class LatencyHistogram:
    """Counts of values (milliseconds) in log-spaced buckets, plus count/sum/min/max."""

    gamma: float = DEFAULT_GAMMA
    buckets: dict[int, int] = field(default_factory=dict)
    zero_count: int = 0
    count: int = 0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf

    def __post_init__(self) -> None:
        if not self.gamma > 1:
            raise ConfigError(f"latency histogram gamma must be > 1, got {self.gamma}")
        self._log_gamma = math.log(self.gamma)

    @property
    def relative_error(self) -> float:
        """Bound on |quantile estimate - true value| / true value."""
        return (self.gamma - 1) / (self.gamma + 1)

    def add(self, value: float, count: int = 1) -> None:
        """Record ``count`` occurrences of ``value`` (milliseconds, ≥ 0)."""
        if not value >= 0 or math.isinf(value):
            raise ConfigError(f"execution time must be a finite number >= 0, got {value}")
        if value <= ZERO_THRESHOLD:
            self.zero_count += count
        else:
            index = math.ceil(math.log(value) / self._log_gamma)
            self.buckets[index] = self.buckets.get(index, 0) + count
        self.count += count
        self.total += value * count
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def add_many(self, values: Sequence[float] | npt.NDArray[np.float64]) -> None:
        """Record many values at once (vectorised)."""
        array = np.asarray(values, dtype=np.float64)
        if array.size == 0:
            return
        if not (np.all(array >= 0) and np.all(np.isfinite(array))):
            raise ConfigError("execution times must be finite numbers >= 0")
        small = array <= ZERO_THRESHOLD
        self.zero_count += int(small.sum())
        indexes = np.ceil(np.log(array[~small]) / self._log_gamma).astype(np.int64)
        uniques, counts = np.unique(indexes, return_counts=True)
        for index, n in zip(uniques.tolist(), counts.tolist(), strict=True):
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += int(array.size)
        self.total += float(array.sum())
        self.minimum = min(self.minimum, float(array.min()))
        self.maximum = max(self.maximum, float(array.max()))

    @property
    def mean(self) -> float | None:
        """Mean value, ``None`` when empty."""
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0..1) within :attr:`relative_error`; ``None`` when empty."""
        if not 0 <= q <= 1:
            raise ConfigError(f"quantile must be between 0 and 1, got {q}")
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        seen = self.zero_count
        if rank < seen:
            return max(self.minimum, 0.0)
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if rank < seen:
                estimate = 2 * self.gamma**index / (self.gamma + 1)
                return min(max(estimate, self.minimum), self.maximum)
        return self.maximum

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """A new histogram holding both; :class:`ConfigError` if the bucket widths differ."""
        if other.gamma != self.gamma:
            raise ConfigError(
                f"cannot merge latency histograms of gamma {self.gamma} and {other.gamma}"
            )
        buckets = dict(self.buckets)
        for index, n in other.buckets.items():
            buckets[index] = buckets.get(index, 0) + n
        return LatencyHistogram(
            gamma=self.gamma,
            buckets=buckets,
            zero_count=self.zero_count + other.zero_count,
            count=self.count + other.count,
            total=self.total + other.total,
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
        )

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        return self.merge(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """``{"gamma", "count", "sum", "min", "max", "zeroCount", "buckets": [[index, n]...]}``."""
        return {
            "gamma": self.gamma,
            "count": self.count,
            "sum": self.total,
            "min": self.minimum if self.count else None,
            "max": self.maximum if self.count else None,
            "zeroCount": self.zero_count,
            "buckets": [[i, self.buckets[i]] for i in sorted(self.buckets)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyHistogram:
        """Rebuild from :meth:`to_dict` output; :class:`ConfigError` when malformed."""
        try:
            count = int(data["count"])
            return cls(
                gamma=float(data.get("gamma", DEFAULT_GAMMA)),
                buckets={int(i): int(n) for i, n in data["buckets"]},
                zero_count=int(data.get("zeroCount", 0)),
                count=count,
                total=float(data["sum"]),
                minimum=float(data["min"]) if count else math.inf,
                maximum=float(data["max"]) if count else -math.inf,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed latency histogram: {exc!r}") from exc
