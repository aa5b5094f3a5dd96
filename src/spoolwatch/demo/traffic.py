"""The demo's traffic: a simulated day of a model scoring loan applications.

The example model reports through the :class:`~spoolwatch.report.Reporter` exactly as a real
model would (service stats per request, predictions with features and association ids,
actuals for most rows, custom metrics, an event per failed request), but its clock is
simulated: a whole day of traffic is written in seconds, each record stamped with the
simulated time, so the dashboard's charts show hours of history. Drift starts at a whole
hour two thirds of the way through and ramps up over three hours.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from spoolwatch.demo.model import CLASS_NAMES, ExampleModel
from spoolwatch.report import Reporter

__all__ = ["CUSTOM_METRICS", "SimulatedDay", "TrafficPlan", "TrafficTotals"]

#: Custom metrics the example model reports once per request.
CUSTOM_METRICS = ("approval_rate", "mean_loan_amount")

_REQUESTS_PER_HOUR = 6
_ACTUALS_SHARE = 0.7
_RAMP_HOURS = 3


@dataclass(frozen=True, kw_only=True)
class TrafficPlan:
    """How much traffic, over how many simulated hours, and when drift starts."""

    rows: int = 12_000
    hours: int = 24
    drift_at: float = 2 / 3

    def drift_start(self, end: datetime) -> datetime:
        """The whole hour at which drift begins (the day ends at ``end``)."""
        start = end - timedelta(hours=self.hours)
        at = start + timedelta(hours=self.hours * self.drift_at)
        return at.replace(minute=0, second=0, microsecond=0)

    def drift_full(self, end: datetime) -> datetime:
        """The whole hour from which the drift is complete."""
        return self.drift_start(end) + timedelta(hours=_RAMP_HOURS)


@dataclass
class TrafficTotals:
    """What the example model reported."""

    requests: int = 0
    failed_requests: int = 0
    predictions: int = 0
    actuals: int = 0
    metric_values: int = 0
    events: int = 0


class SimulatedDay:
    """Writes a simulated day of traffic ending at ``end`` through a reporter."""

    def __init__(self, model: ExampleModel, plan: TrafficPlan, end: datetime, seed: int) -> None:
        self.model = model
        self.plan = plan
        self.end = end.astimezone(UTC)
        self.start = self.end - timedelta(hours=plan.hours)
        self._rng = np.random.default_rng(seed + 1)
        self._now = self.start
        self.totals = TrafficTotals()

    def clock(self) -> datetime:
        """The simulated time, for the reporter's ``clock``."""
        return self._now

    def drift_level(self, moment: datetime) -> float:
        """How far the drift has gone at ``moment``: 0 before it starts, 1 once complete."""
        begun = (moment - self.plan.drift_start(self.end)).total_seconds()
        return min(1.0, max(0.0, begun / (_RAMP_HOURS * 3600)))

    def run(self, reporter: Reporter, progress: Callable[[int, int], None] | None = None) -> None:
        """Report every request of the day, in time order."""
        requests = self.plan.hours * _REQUESTS_PER_HOUR
        weights = self._daily_shape(requests)
        sizes = np.maximum(1, np.round(weights / weights.sum() * self.plan.rows)).astype(int)
        step = timedelta(hours=self.plan.hours) / requests
        for i, size in enumerate(sizes.tolist()):
            self._now = self.start + step * (i + 0.5)
            self._request(reporter, i, size)
            if progress is not None:
                progress(i + 1, requests)

    def _daily_shape(self, requests: int) -> np.ndarray:
        # Busier in the (UTC) afternoon than at night, plus some noise.
        hours = np.array(
            [
                (self.start + timedelta(hours=self.plan.hours) * (i / requests)).hour
                for i in range(requests)
            ],
            dtype=np.float64,
        )
        daily = 1.0 + 0.5 * np.sin((hours - 8.0) / 24.0 * 2 * math.pi)
        noisy: np.ndarray = daily * self._rng.uniform(0.85, 1.15, requests)
        return noisy

    def _request(self, reporter: Reporter, index: int, size: int) -> None:
        drift = self.drift_level(self._now)
        batch = self.model.batch(size, drift=drift)
        failed = self._rng.random() < (0.35 if self._incident() else 0.003)
        user_error = not failed and self._rng.random() < 0.005
        latency = float(18.0 + 0.045 * size + self._rng.lognormal(1.6, 0.5))
        if self._incident():
            latency *= 2.5
        reporter.report_deployment_stats(
            size, round(latency, 2), user_error=user_error, system_error=failed
        )
        self.totals.requests += 1
        if failed:
            self.totals.failed_requests += 1
            self.totals.events += 1
            reporter.report_event(
                "prediction_request.failed",
                f"Prediction request {index} failed: scoring backend timed out",
                data={"request": index, "rows": size, "httpStatus": 504},
            )
            return
        probabilities = self.model.predict(batch.features)
        ids = [f"req{index:04d}-{row:04d}" for row in range(size)]
        reporter.report_predictions_data(
            batch.features, probabilities, association_ids=ids, class_names=list(CLASS_NAMES)
        )
        self.totals.predictions += size
        self._report_actuals(reporter, ids, batch.labels)
        approved = float(np.mean([p[1] < 0.5 for p in probabilities]))
        loans = batch.features["loan_amount"]
        reporter.report_deployment_metric(CUSTOM_METRICS[0], round(approved, 4))
        reporter.report_deployment_metric(
            CUSTOM_METRICS[1], round(float(np.mean(np.asarray(loans, dtype=float))), 2)
        )
        self.totals.metric_values += 2

    def _report_actuals(self, reporter: Reporter, ids: list[str], labels: list[str]) -> None:
        known = self._rng.random(len(ids)) < _ACTUALS_SHARE
        actuals = [
            {"associationId": i, "actualValue": label}
            for i, label, keep in zip(ids, labels, known.tolist(), strict=True)
            if keep
        ]
        if actuals:
            reporter.report_actuals(actuals)
            self.totals.actuals += len(actuals)

    def _incident(self) -> bool:
        # One rough hour a third of the way through the day: slow and failing requests.
        hour = (self._now - self.start).total_seconds() // 3600
        return int(hour) == self.plan.hours // 3
