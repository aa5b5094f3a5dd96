"""Accuracy health: a traffic-light status from a metric against its reference value.

The metric is a mean of per-row scores, so it merges over hours and gets a significance
test, like drift (see :mod:`spoolwatch.monitoring.drift`):

* ``accuracy`` (default for binary and multiclass; the share of rows whose predicted class,
  positive-class probability ≥ 0.5 or argmax, is the actual), higher is better;
* ``logLoss`` (classification), lower is better;
* ``rmse`` (default for regression; the square root of the mean squared error) and ``mae``,
  lower is better.

AUC, F1 and R² are not offered: they are not means of per-row scores, so neither the hourly
merge nor the test below applies to them.

The status answers two questions, both of which must say "yes" for a warning:

1. *Is the degradation big enough to matter?* The relative change against the reference, in
   the metric's bad direction, reaches ``yellow`` (default 10 %) or ``red`` (20 %).
2. *Is it more than sampling noise?* A one-sided Welch z-test of the per-row scores' means
   (the reference's own noise counted when it is measured, not given) has a p-value below
   ``alpha`` (default 0.001). Hourly windows are judged with ``alpha / windows`` (Bonferroni),
   so looking at every hour of a day raises no more false alarms than looking at the day.

With fewer than ``min_rows`` (default 100) rows, current or reference, the status is
``unknown``. :func:`judge_period` gives a period the worst status of the whole period and
of its windows and recent spans, as for drift (see :mod:`spoolwatch.monitoring.windows`): an
hour of bad accuracy is not hidden by a day of good accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from spoolwatch.errors import ConfigError
from spoolwatch.monitoring.status import DriftStatus
from spoolwatch.monitoring.windows import judge_windows

__all__ = [
    "ACCURACY_HEALTH_METRICS",
    "AccuracyHealthConfig",
    "AccuracyJudgement",
    "ScoreSummary",
    "default_accuracy_metric",
    "judge_accuracy",
    "judge_period",
    "row_scores",
]

#: Metric name → whether a higher value is better.
ACCURACY_HEALTH_METRICS: dict[str, bool] = {
    "accuracy": True,
    "logLoss": False,
    "rmse": False,
    "mae": False,
}
_CLASSIFICATION = ("accuracy", "logLoss")
_REGRESSION = ("rmse", "mae")
_EPSILON = 1e-15


def default_accuracy_metric(target_type: str) -> str:
    """``rmse`` for regression, ``accuracy`` for binary and multiclass."""
    return "rmse" if target_type == "regression" else "accuracy"


@dataclass(frozen=True, kw_only=True)
class AccuracyHealthConfig:
    """How accuracy is judged; ``yellow``/``red`` are relative degradations (0.1 = 10 %).

    ``baseline_value`` replaces the reference measured on the deployment's first joined rows.
    """

    metric: str | None = None
    yellow: float = 0.10
    red: float = 0.20
    baseline_value: float | None = None
    min_rows: int = 100
    alpha: float = 1e-3

    def __post_init__(self) -> None:
        if self.metric is not None and self.metric not in ACCURACY_HEALTH_METRICS:
            raise ConfigError(
                f"accuracy metric {self.metric!r} is not one of {sorted(ACCURACY_HEALTH_METRICS)}"
            )
        if not 0 < self.yellow <= self.red:
            raise ConfigError(
                f"accuracy thresholds need 0 < yellow <= red, got {self.yellow}, {self.red}"
            )
        if self.baseline_value is not None and not math.isfinite(self.baseline_value):
            raise ConfigError(f"accuracy baseline value must be finite, got {self.baseline_value}")
        if self.min_rows < 2:
            raise ConfigError(f"min_rows must be at least 2, got {self.min_rows}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha must be between 0 and 1, got {self.alpha}")

    def metric_for(self, target_type: str) -> str:
        """The configured metric, checked against the target type, or the default."""
        metric = self.metric or default_accuracy_metric(target_type)
        allowed = _REGRESSION if target_type == "regression" else _CLASSIFICATION
        if metric not in allowed:
            raise ConfigError(f"accuracy metric {metric!r} does not apply to {target_type} models")
        return metric


@dataclass(frozen=True)
class ScoreSummary:
    """Count, mean and variance of per-row scores (see :func:`row_scores`)."""

    metric: str
    count: int
    mean: float
    variance: float

    @classmethod
    def of(cls, metric: str, scores: npt.ArrayLike) -> ScoreSummary:
        """The summary of ``scores``."""
        values = np.asarray(scores, dtype=np.float64)
        if values.size == 0:
            return cls(metric, 0, math.nan, math.nan)
        variance = float(values.var(ddof=1)) if values.size > 1 else 0.0
        return cls(metric, int(values.size), float(values.mean()), variance)

    def merge(self, other: ScoreSummary) -> ScoreSummary:
        """The summary of both sets of scores (Chan et al.'s pairwise variance update)."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        m2 = (
            self.variance * (self.count - 1)
            + other.variance * (other.count - 1)
            + delta**2 * self.count * other.count / n
        )
        return ScoreSummary(self.metric, n, self.mean + delta * other.count / n, m2 / (n - 1))

    @property
    def value(self) -> float | None:
        """The metric's value (``rmse`` is the root of the mean squared error)."""
        if self.count == 0:
            return None
        return math.sqrt(self.mean) if self.metric == "rmse" else self.mean


@dataclass(frozen=True)
class AccuracyJudgement:
    """A metric's value against its reference and the resulting status."""

    metric: str
    status: DriftStatus
    value: float | None
    baseline_value: float | None
    percent_change: float | None
    p_value: float | None
    count: int
    #: The windows whose (shared) judgement set this status, when a period's status is a
    #: window's rather than its own: the figures above are then the period's, not the ones
    #: the status was judged on (see :func:`judge_period`).
    decided_by: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form with camelCase keys."""
        return {
            "metric": self.metric,
            "status": self.status.value,
            "value": self.value,
            "baselineValue": self.baseline_value,
            "percentChange": self.percent_change,
            "pValue": self.p_value,
            "count": self.count,
        }


def row_scores(
    metric: str,
    target_type: str,
    actuals: Sequence[Any] | npt.NDArray[Any],
    predictions: Sequence[Any] | npt.NDArray[Any],
    class_names: Sequence[str] = (),
) -> npt.NDArray[np.float64]:
    """Per-row scores whose mean is the metric (squared errors for ``rmse``).

    Classification predictions are probability rows in ``class_names`` order; actuals are
    class names. Regression predictions and actuals are numbers.
    """
    if len(actuals) != len(predictions):
        raise ConfigError(f"{len(actuals)} actuals for {len(predictions)} predictions")
    if not len(actuals):
        return np.zeros(0, dtype=np.float64)
    if target_type == "regression":
        error = np.asarray(predictions, np.float64) - np.asarray(actuals, np.float64)
        return np.asarray(error**2 if metric == "rmse" else np.abs(error), dtype=np.float64)
    names = [str(c) for c in class_names]
    probs = np.asarray(predictions, dtype=np.float64).reshape(len(actuals), len(names))
    index = {name: i for i, name in enumerate(names)}
    truth = np.fromiter((index[str(a)] for a in actuals), dtype=np.int64, count=len(actuals))
    if metric == "logLoss":
        sums = probs.sum(axis=1)
        picked = probs[np.arange(truth.size), truth] / np.where(sums > 0, sums, 1.0)
        return np.asarray(-np.log(np.clip(picked, _EPSILON, 1.0)), dtype=np.float64)
    if target_type == "binary":
        predicted = (probs[:, 1] >= 0.5).astype(np.int64)  # as binary_metrics' threshold
    else:
        predicted = probs.argmax(axis=1)
    return np.asarray(predicted == truth, dtype=np.float64)


def _p_value(
    current: ScoreSummary, reference: ScoreSummary | None, baseline_mean: float, worse_up: bool
) -> float:
    """One-sided p-value that the current mean is worse than the reference's by chance."""
    variance = current.variance / current.count
    if reference is not None:
        variance += reference.variance / reference.count
    difference = current.mean - baseline_mean
    if not worse_up:
        difference = -difference
    if variance <= 0:
        return 0.0 if difference > 0 else 1.0
    return 0.5 * math.erfc(difference / math.sqrt(variance) / math.sqrt(2.0))


def judge_accuracy(
    current: ScoreSummary,
    reference: ScoreSummary | None,
    config: AccuracyHealthConfig,
    *,
    alpha: float | None = None,
) -> AccuracyJudgement:
    """The status of ``current`` against ``reference`` (or ``config.baseline_value``)."""
    metric = current.metric
    higher_is_better = ACCURACY_HEALTH_METRICS[metric]
    if config.baseline_value is not None:
        baseline: float | None = config.baseline_value
        reference = None
    elif reference is not None and reference.count >= config.min_rows:
        baseline = reference.value
    else:
        baseline, reference = None, None
    value = current.value
    percent = None
    if value is not None and baseline:
        percent = (value - baseline) / abs(baseline) * 100.0
    if value is None or baseline is None or current.count < config.min_rows:
        return AccuracyJudgement(metric, DriftStatus.UNKNOWN, value, baseline, percent, None, 0)
    baseline_mean = baseline**2 if metric == "rmse" else baseline
    p_value = _p_value(current, reference, baseline_mean, worse_up=not higher_is_better)
    worse = (baseline - value) if higher_is_better else (value - baseline)
    degradation = worse / abs(baseline) if baseline else (math.inf if worse > 0 else 0.0)
    status = DriftStatus.GREEN
    if degradation >= config.yellow and p_value < (config.alpha if alpha is None else alpha):
        status = DriftStatus.RED if degradation >= config.red else DriftStatus.YELLOW
    return AccuracyJudgement(metric, status, value, baseline, percent, p_value, current.count)


def _merged(summaries: Sequence[ScoreSummary], metric: str) -> ScoreSummary:
    merged = ScoreSummary.of(metric, [])
    for summary in summaries:
        merged = merged.merge(summary)
    return merged


def judge_period(
    total: ScoreSummary,
    windows: Sequence[ScoreSummary],
    reference: ScoreSummary | None,
    config: AccuracyHealthConfig,
) -> tuple[AccuracyJudgement, list[AccuracyJudgement]]:
    """The period's judgement (worst of the whole period and its windows) and each window's.

    When a window is worse than the whole period, the period's judgement keeps the period's
    figures and names in ``decided_by`` the windows (one pool or recent span; the most
    recent of the worst) whose judgement gave the status.

    Windows are judged pooled until they have ``min_rows`` rows and in recent spans, each at
    ``alpha / n`` for n pools and spans (see :mod:`spoolwatch.monitoring.windows`).
    """

    def judge(indexes: list[int], tests: int) -> AccuracyJudgement:
        together = _merged([windows[i] for i in indexes], total.metric)
        return judge_accuracy(together, reference, config, alpha=config.alpha / tests)

    per_window = judge_windows(
        [w.count for w in windows], config.min_rows, judge, lambda j: j.status.severity
    )
    whole = judge_accuracy(total, reference, config)
    deciding: AccuracyJudgement | None = None
    worst = whole.status.severity
    for window in per_window:  # among equally bad windows the most recent decides
        severity = window.status.severity
        if severity > worst or (deciding is not None and severity == worst):
            deciding, worst = window, severity
    if deciding is not None:
        decided_by = tuple(i for i, window in enumerate(per_window) if window is deciding)
        whole = replace(whole, status=deciding.status, decided_by=decided_by)
    return whole, per_window
