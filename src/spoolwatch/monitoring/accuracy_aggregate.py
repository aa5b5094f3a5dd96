"""Accuracy as a mergeable aggregate: what joined predictions and actuals add to an hour.

An :class:`AccuracyAggregate` holds counts and sums only, so the aggregates of any hours add
up to the aggregate of the period (:meth:`AccuracyAggregate.merged`), and a pair that is
replaced (a corrected actual, a re-sent prediction) is taken out again with ``sign=-1``:

* every target type: ``predicted`` (predictions with an association id in the hour),
  ``actualized`` (those of them with an actual) and ``count`` (the joined pairs that fit the
  deployment and enter the metrics);
* classification: the confusion matrix (actual class by predicted class, the binary threshold
  0.5, multiclass argmax), the log-loss sum as :func:`binary_metrics` and
  :func:`multiclass_metrics` compute it, and the sum and sum of squares of the per-row
  log-loss scores of :func:`row_scores` (the health test's mean and variance);
* binary only: histograms of the positive-class probability per actual class, in
  :data:`SCORE_BUCKETS` buckets of equal width over [0, 1], from which AUC is read; and how
  many probabilities lay outside [0, 1] (while any do, the period has no metrics, as
  :func:`binary_metrics` refuses them);
* regression: the sums of error, absolute error, squared error, error⁴ (the variance of the
  squared errors, for the RMSE test), actual and actual². A pair whose square (or fourth
  power) would pass :data:`VALUE_MAX` is counted in ``beyond_squares`` (``beyond_fourth``)
  instead of entering those sums, so the sums of up to 2⁶³ pairs stay finite; a period with
  such a pair has no RMSE and R² (no RMSE test).

AUC from the histograms treats the scores within one bucket as ties (counted half): it
differs from the exact rank-sum AUC by at most half the share of positive-negative pairs
that share a bucket, at most 0.5 and in practice below 10⁻³ with 1000 buckets (tested).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from spoolwatch.monitoring.accuracy import LOG_LOSS_EPSILON
from spoolwatch.monitoring.accuracy_health import ScoreSummary, row_scores

__all__ = ["SCORE_BUCKETS", "VALUE_MAX", "AccuracyAggregate"]

#: Buckets of the binary score histograms (width 0.001).
SCORE_BUCKETS = 1000
#: Largest square (or fourth power) of a regression pair that enters the sums; as
#: ``records.bounds.VALUE_MAX``, so a sum of 2⁶³ of them stays below the largest float.
VALUE_MAX = 1e289

_SUMS = (
    "log_loss",
    "row_log_loss",
    "row_log_loss_sq",
    "error",
    "abs_error",
    "sq_error",
    "fourth_error",
    "actual",
    "actual_sq",
)
_COUNTS = ("predicted", "actualized", "count", "out_of_range", "beyond_squares", "beyond_fourth")
IntArray = npt.NDArray[np.int64]


def _zeros(shape: tuple[int, ...]) -> IntArray:
    return np.zeros(shape, dtype=np.int64)


@dataclass(slots=True)
class AccuracyAggregate:
    """Counts and sums of one hour's (or period's) joined pairs of one target type."""

    target_type: str
    classes: int
    predicted: int = 0
    actualized: int = 0
    count: int = 0
    out_of_range: int = 0
    beyond_squares: int = 0
    beyond_fourth: int = 0
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUMS, 0.0))
    confusion: IntArray = field(default_factory=lambda: _zeros((0, 0)))
    histograms: IntArray = field(default_factory=lambda: _zeros((0, 0)))

    def __post_init__(self) -> None:
        if self.target_type != "regression":
            k = self.classes
            if self.confusion.shape != (k, k):
                self.confusion = _zeros((k, k))
            if self.target_type == "binary" and self.histograms.shape != (2, SCORE_BUCKETS):
                self.histograms = _zeros((2, SCORE_BUCKETS))

    # ------------------------------------------------------------------ building

    @classmethod
    def of_pairs(
        cls,
        target_type: str,
        class_names: Sequence[str],
        predictions: npt.ArrayLike,
        actuals: npt.ArrayLike,
    ) -> AccuracyAggregate:
        """The aggregate of usable joined pairs: ``predictions`` (n,) for regression and
        binary (the positive class's probability), (n, classes) for multiclass; ``actuals``
        numbers (regression) or class names."""
        agg = cls(target_type, len(class_names))
        pred = np.asarray(predictions, dtype=np.float64)
        n = int(pred.shape[0]) if pred.ndim else 0
        agg.count = n  # ``predicted`` and ``actualized`` are the caller's to count
        if n == 0:
            return agg
        if target_type == "regression":
            agg._add_regression(pred, np.asarray(actuals, dtype=np.float64))
        else:
            agg._add_classification(pred, np.asarray(actuals, dtype=object), class_names)
        return agg

    def _add_regression(self, pred: npt.NDArray[np.float64], truth: npt.NDArray[Any]) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            error = pred - truth
            square = error**2
            actual_sq = truth**2
            fourth = square**2
        squares_ok = (square <= VALUE_MAX) & (actual_sq <= VALUE_MAX)
        fourth_ok = squares_ok & (fourth <= VALUE_MAX)
        s = self.sums
        s["error"] = float(error.sum())
        s["abs_error"] = float(np.abs(error).sum())
        s["actual"] = float(truth.sum())
        s["sq_error"] = float(square[squares_ok].sum())
        s["actual_sq"] = float(actual_sq[squares_ok].sum())
        s["fourth_error"] = float(fourth[fourth_ok].sum())
        self.beyond_squares = int((~squares_ok).sum())
        self.beyond_fourth = int((~fourth_ok).sum())

    def _add_classification(
        self, pred: npt.NDArray[np.float64], labels: npt.NDArray[Any], names: Sequence[str]
    ) -> None:
        index = {str(name): i for i, name in enumerate(names)}
        truth = np.fromiter((index[str(a)] for a in labels), dtype=np.int64, count=labels.size)
        binary = self.target_type == "binary"
        probs = np.column_stack([1.0 - pred, pred]) if binary else pred
        picked_scores = row_scores("logLoss", self.target_type, labels, probs, names)
        self.sums["row_log_loss"] = float(picked_scores.sum())
        self.sums["row_log_loss_sq"] = float((picked_scores**2).sum())
        if binary:
            predicted = (pred >= 0.5).astype(np.int64)
            positive = truth == 1
            clipped = np.clip(pred, LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON)
            losses = np.where(positive, np.log(clipped), np.log1p(-clipped))
            inside = (pred >= 0) & (pred <= 1)
            self.out_of_range = int((~inside).sum())
            buckets = np.minimum((pred[inside] * SCORE_BUCKETS).astype(np.int64), SCORE_BUCKETS - 1)
            np.add.at(self.histograms, (truth[inside], buckets), 1)
        else:
            predicted = probs.argmax(axis=1)
            sums = probs.sum(axis=1, keepdims=True)
            normalised = np.divide(
                probs, sums, out=np.full_like(probs, 1 / len(names)), where=sums > 0
            )
            picked = np.clip(normalised[np.arange(truth.size), truth], LOG_LOSS_EPSILON, 1.0)
            losses = np.log(picked)
        self.sums["log_loss"] = -float(losses.sum())
        np.add.at(self.confusion, (truth, predicted), 1)

    def merged(self, other: AccuracyAggregate, sign: int = 1) -> AccuracyAggregate:
        """This aggregate plus ``other`` (``sign=-1``: minus ``other``, taking its pairs out)."""
        out = AccuracyAggregate(self.target_type, self.classes)
        for name in _COUNTS:
            setattr(out, name, getattr(self, name) + sign * getattr(other, name))
        out.sums = {k: self.sums[k] + sign * other.sums[k] for k in _SUMS}
        if self.target_type != "regression":
            out.confusion = self.confusion + sign * other.confusion
            if self.target_type == "binary":
                out.histograms = self.histograms + sign * other.histograms
        return out

    @classmethod
    def total(
        cls, target_type: str, classes: int, parts: Iterable[AccuracyAggregate]
    ) -> AccuracyAggregate:
        """The sum of ``parts`` (empty when there are none)."""
        out = cls(target_type, classes)
        for part in parts:
            out = out.merged(part)
        return out

    # ------------------------------------------------------------------ reading

    def metrics(self) -> dict[str, float | None]:
        """The metrics of the accuracy endpoint (empty without usable pairs' metrics)."""
        if self.target_type != "regression" and not self.classes:
            return {}
        if self.target_type == "regression":
            return self._regression_metrics()
        if self.count == 0:
            if self.target_type == "binary":
                return dict.fromkeys(("auc", "logLoss", "accuracy", "f1"))
            return {"accuracy": None, "logLoss": None}
        correct = int(np.trace(self.confusion))
        values: dict[str, float | None] = {
            "accuracy": correct / self.count,
            "logLoss": self.sums["log_loss"] / self.count,
        }
        if self.target_type != "binary":
            return values
        if self.out_of_range:
            return {}  # as binary_metrics: probabilities outside [0, 1] are a misfit model
        tp, fp, fn = (int(self.confusion[i, j]) for i, j in ((1, 1), (0, 1), (1, 0)))
        return {
            "auc": self.auc(),
            "logLoss": values["logLoss"],
            "accuracy": values["accuracy"],
            "f1": 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else None,
        }

    def auc(self) -> float | None:
        """AUC from the score histograms (ties within a bucket count half)."""
        negative, positive = self.histograms[0], self.histograms[1]
        n_pos, n_neg = int(positive.sum()), int(negative.sum())
        if n_pos == 0 or n_neg == 0:
            return None
        below = np.cumsum(negative) - negative  # negatives in lower buckets
        wins = float(np.dot(positive, below)) + 0.5 * float(np.dot(positive, negative))
        return wins / (n_pos * n_neg)

    def _regression_metrics(self) -> dict[str, float | None]:
        n = self.count
        if n == 0:
            return {"rmse": None, "mae": None, "r2": None}
        mae = self.sums["abs_error"] / n
        if self.beyond_squares:
            return {"rmse": None, "mae": mae, "r2": None}
        ss_res = max(self.sums["sq_error"], 0.0)
        total, total_sq = self.sums["actual"], self.sums["actual_sq"]
        ss_tot = total_sq - total * total / n
        # Below the rounding of the sums, the actuals are constant (R² has no value).
        constant = ss_tot <= 1e-12 * max(total_sq, np.finfo(np.float64).tiny)
        return {
            "rmse": math.sqrt(ss_res / n),
            "mae": mae,
            "r2": None if constant else 1 - ss_res / ss_tot,
        }

    def score_summary(self, metric: str) -> ScoreSummary:
        """The mean and variance of the per-row scores of a health metric (as
        :func:`row_scores`); empty when they are unknown (sums beyond the bounds)."""
        n = self.count
        if n == 0 or (self.target_type != "regression" and not self.classes):
            return ScoreSummary.of(metric, [])
        if metric == "accuracy":
            total = float(np.trace(self.confusion))
            squares = total
        elif metric == "logLoss":
            total, squares = self.sums["row_log_loss"], self.sums["row_log_loss_sq"]
        elif metric == "mae":
            if self.beyond_squares:
                return ScoreSummary.of(metric, [])
            total, squares = self.sums["abs_error"], self.sums["sq_error"]
        else:  # rmse: the squared errors
            if self.beyond_fourth:
                return ScoreSummary.of(metric, [])
            total, squares = self.sums["sq_error"], self.sums["fourth_error"]
        mean = total / n
        variance = max(squares - total * mean, 0.0) / (n - 1) if n > 1 else 0.0
        return ScoreSummary(metric, n, mean, variance)

    # ------------------------------------------------------------------ stored form

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (binary: ``histogram`` is the negatives' and the positives'
        counts per bucket, two lists of :data:`SCORE_BUCKETS`)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in _COUNTS}
        data["sums"] = dict(self.sums)
        if self.target_type != "regression":
            data["confusion"] = self.confusion.tolist()
        if self.target_type == "binary":
            data["histogram"] = self.histograms.tolist()
        return data

    @classmethod
    def from_dict(cls, target_type: str, classes: int, data: dict[str, Any]) -> AccuracyAggregate:
        """The aggregate of :meth:`to_dict`; ``ValueError`` or ``TypeError`` when malformed
        (a negative count, a sum that is not finite, a shape that does not fit)."""
        agg = cls(target_type, classes)
        for name in _COUNTS:
            value = data[name]
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a count, got {value!r}")
            setattr(agg, name, value)
        sums = {k: data["sums"][k] for k in _SUMS}
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in sums.values()):
            raise ValueError(f"sums must be finite, got {sums!r}")
        agg.sums = {k: float(v) for k, v in sums.items()}
        if target_type != "regression":
            confusion = np.asarray(data["confusion"], dtype=np.int64).reshape(classes, classes)
            agg.confusion = confusion
        if target_type == "binary":
            negatives, positives = data["histogram"]
            agg.histograms = np.array([negatives, positives], dtype=np.int64)
            if agg.histograms.shape != (2, SCORE_BUCKETS):
                raise ValueError(f"histograms of shape {agg.histograms.shape}")
        if (agg.confusion < 0).any() or (agg.histograms < 0).any():
            raise ValueError("negative counts")
        return agg
