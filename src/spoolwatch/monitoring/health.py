"""Service health: request and prediction counts, error rates, execution time, peak load.

One :class:`ServiceHealth` per deployment, model and hour is folded from DEPLOYMENT_STATS
records (one record = one request) and merges by addition, so any period is the merge of
its hours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.latency import LatencyHistogram

__all__ = ["ServiceHealth", "ServiceHealthSummary"]


def _minute(timestamp: float | datetime) -> int:
    seconds = timestamp.timestamp() if isinstance(timestamp, datetime) else float(timestamp)
    if not math.isfinite(seconds):
        raise ConfigError(f"timestamp must be finite, got {timestamp}")
    return int(seconds // 60)


@dataclass(frozen=True)
class ServiceHealthSummary:
    """What the dashboard shows for a period (times in milliseconds)."""

    requests: int
    predictions: int
    user_errors: int
    system_errors: int
    user_error_rate: float | None
    system_error_rate: float | None
    execution_time_mean: float | None
    execution_time_p50: float | None
    execution_time_p90: float | None
    execution_time_p99: float | None
    peak_requests_per_minute: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form with camelCase keys."""
        return {
            "requests": self.requests,
            "predictions": self.predictions,
            "userErrors": self.user_errors,
            "systemErrors": self.system_errors,
            "userErrorRate": self.user_error_rate,
            "systemErrorRate": self.system_error_rate,
            "executionTimeMean": self.execution_time_mean,
            "executionTimeP50": self.execution_time_p50,
            "executionTimeP90": self.execution_time_p90,
            "executionTimeP99": self.execution_time_p99,
            "peakRequestsPerMinute": self.peak_requests_per_minute,
        }


@dataclass(eq=False)
class ServiceHealth:
    """Mergeable service-health aggregate.

    ``execution_time`` holds one value per request; ``requests_per_minute`` maps a minute
    (Unix seconds // 60) to its request count, at most 60 entries per hourly aggregate.
    """

    requests: int = 0
    predictions: int = 0
    user_errors: int = 0
    system_errors: int = 0
    execution_time: LatencyHistogram = field(default_factory=LatencyHistogram)
    requests_per_minute: dict[int, int] = field(default_factory=dict)

    def add_request(
        self,
        *,
        num_predictions: int,
        execution_time_ms: float,
        timestamp: float | datetime,
        user_error: bool = False,
        system_error: bool = False,
    ) -> None:
        """Fold in one DEPLOYMENT_STATS record (``timestamp`` as datetime or Unix seconds)."""
        if num_predictions < 0:
            raise ConfigError(f"num_predictions must be >= 0, got {num_predictions}")
        minute = _minute(timestamp)
        self.execution_time.add(execution_time_ms)
        self.requests += 1
        self.predictions += int(num_predictions)
        self.user_errors += int(bool(user_error))
        self.system_errors += int(bool(system_error))
        self.requests_per_minute[minute] = self.requests_per_minute.get(minute, 0) + 1

    def merge(self, other: ServiceHealth) -> ServiceHealth:
        """A new aggregate holding both."""
        per_minute = dict(self.requests_per_minute)
        for minute, n in other.requests_per_minute.items():
            per_minute[minute] = per_minute.get(minute, 0) + n
        return ServiceHealth(
            requests=self.requests + other.requests,
            predictions=self.predictions + other.predictions,
            user_errors=self.user_errors + other.user_errors,
            system_errors=self.system_errors + other.system_errors,
            execution_time=self.execution_time.merge(other.execution_time),
            requests_per_minute=per_minute,
        )

    def __add__(self, other: ServiceHealth) -> ServiceHealth:
        return self.merge(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceHealth):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    @property
    def peak_requests_per_minute(self) -> int:
        """The busiest minute's request count (0 when empty)."""
        return max(self.requests_per_minute.values(), default=0)

    def summary(self) -> ServiceHealthSummary:
        """Counts, error rates (per request), execution-time mean and quantiles, peak."""
        rate = (lambda n: n / self.requests) if self.requests else (lambda n: None)
        times = self.execution_time
        return ServiceHealthSummary(
            requests=self.requests,
            predictions=self.predictions,
            user_errors=self.user_errors,
            system_errors=self.system_errors,
            user_error_rate=rate(self.user_errors),
            system_error_rate=rate(self.system_errors),
            execution_time_mean=times.mean,
            execution_time_p50=times.quantile(0.5),
            execution_time_p90=times.quantile(0.9),
            execution_time_p99=times.quantile(0.99),
            peak_requests_per_minute=self.peak_requests_per_minute,
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"requests", "predictions", "userErrors", "systemErrors", "executionTime":
        LatencyHistogram.to_dict(), "requestsPerMinute": [[minute, n]...]}``."""
        return {
            "requests": self.requests,
            "predictions": self.predictions,
            "userErrors": self.user_errors,
            "systemErrors": self.system_errors,
            "executionTime": self.execution_time.to_dict(),
            "requestsPerMinute": [
                [m, self.requests_per_minute[m]] for m in sorted(self.requests_per_minute)
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceHealth:
        """Rebuild from :meth:`to_dict` output; :class:`ConfigError` when malformed."""
        try:
            return cls(
                requests=int(data["requests"]),
                predictions=int(data["predictions"]),
                user_errors=int(data["userErrors"]),
                system_errors=int(data["systemErrors"]),
                execution_time=LatencyHistogram.from_dict(data["executionTime"]),
                requests_per_minute={int(m): int(n) for m, n in data["requestsPerMinute"]},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed service health aggregate: {exc!r}") from exc
