"""Accuracy of predictions against actuals: binary, multiclass and regression metrics.

Functions over arrays, already joined row by row (see :func:`join_by_association`). Results
are typed dataclasses; a metric without enough data (one class only, a constant target) is
``None`` rather than an exception.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from spoolwatch.errors import ConfigError

__all__ = [
    "LOG_LOSS_EPSILON",
    "BinaryMetrics",
    "MulticlassMetrics",
    "RegressionMetrics",
    "auc",
    "binary_metrics",
    "join_by_association",
    "multiclass_metrics",
    "regression_metrics",
]

# Probabilities are clipped to [ε, 1 - ε] so one confident mistake costs ~34.5, not infinity.
LOG_LOSS_EPSILON = 1e-15

ArrayLike = Sequence[Any] | npt.NDArray[Any]


def _camel(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        head, *rest = key.split("_")
        out[head + "".join(part.capitalize() for part in rest)] = value
    return out


@dataclass(frozen=True)
class BinaryMetrics:
    """AUC, LogLoss, accuracy and F1 (positive class) of a binary classifier."""

    count: int
    positives: int
    auc: float | None
    log_loss: float | None
    accuracy: float | None
    f1: float | None

    def to_dict(self) -> dict[str, Any]:
        """``{"count", "positives", "auc", "logLoss", "accuracy", "f1"}``."""
        return _camel(asdict(self))


@dataclass(frozen=True)
class MulticlassMetrics:
    """Accuracy and LogLoss of a multiclass classifier."""

    count: int
    accuracy: float | None
    log_loss: float | None

    def to_dict(self) -> dict[str, Any]:
        """``{"count", "accuracy", "logLoss"}``."""
        return _camel(asdict(self))


@dataclass(frozen=True)
class RegressionMetrics:
    """RMSE, MAE and R² of a regression model."""

    count: int
    rmse: float | None
    mae: float | None
    r2: float | None

    def to_dict(self) -> dict[str, Any]:
        """``{"count", "rmse", "mae", "r2"}``."""
        return _camel(asdict(self))


def _same_length(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> None:
    if a.shape[0] != b.shape[0]:
        raise ConfigError(f"{a.shape[0]} actuals for {b.shape[0]} predictions")


def _average_ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks 1..n with ties sharing their average rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average = ends - (counts - 1) / 2.0
    return average[inverse].astype(np.float64)


def auc(is_positive: ArrayLike, scores: ArrayLike) -> float | None:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted half."""
    positive = np.asarray(is_positive, dtype=bool)
    score = np.asarray(scores, dtype=np.float64)
    _same_length(positive, score)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(
    y_true: ArrayLike,
    prob_positive: ArrayLike,
    *,
    positive_label: Any = 1,
    threshold: float = 0.5,
) -> BinaryMetrics:
    """Binary metrics; a row is positive when its actual equals ``positive_label``.

    Labels are compared as given and, failing that, by their text (``"1"`` matches ``1``),
    because actuals arrive as JSON numbers or strings.
    """
    labels = np.asarray(y_true, dtype=object)
    prob = np.asarray(prob_positive, dtype=np.float64)
    _same_length(labels, prob)
    n = int(prob.size)
    if n == 0:
        return BinaryMetrics(0, 0, None, None, None, None)
    if not np.all((prob >= 0) & (prob <= 1)):
        raise ConfigError("positive-class probabilities must be between 0 and 1")
    wanted = str(positive_label)
    positive = np.fromiter(
        (v == positive_label or str(v) == wanted for v in labels), dtype=bool, count=n
    )
    clipped = np.clip(prob, LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON)
    log_loss = -float(np.mean(np.where(positive, np.log(clipped), np.log1p(-clipped))))
    predicted = prob >= threshold
    tp = int(np.sum(predicted & positive))
    fp = int(np.sum(predicted & ~positive))
    fn = int(np.sum(~predicted & positive))
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else None
    return BinaryMetrics(
        count=n,
        positives=int(positive.sum()),
        auc=auc(positive, prob),
        log_loss=log_loss,
        accuracy=float(np.mean(predicted == positive)),
        f1=f1,
    )


def multiclass_metrics(
    y_true: ArrayLike, probabilities: ArrayLike, class_names: Sequence[str]
) -> MulticlassMetrics:
    """Accuracy (argmax) and LogLoss; rows of ``probabilities`` follow ``class_names``.

    Rows are renormalised to sum to 1; an actual that is not a class name raises
    :class:`ConfigError` naming it.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    names = [str(c) for c in class_names]
    if probs.ndim != 2 or probs.shape[1] != len(names):
        raise ConfigError(f"probabilities of shape {probs.shape} for {len(names)} classes")
    labels = [str(v) for v in np.asarray(y_true, dtype=object)]
    _same_length(np.asarray(labels, dtype=object), probs)
    if not labels:
        return MulticlassMetrics(0, None, None)
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({label for label in labels if label not in index})
    if unknown:
        raise ConfigError(f"actuals {unknown[:5]} are not among the classes {names}")
    truth = np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels))
    sums = probs.sum(axis=1, keepdims=True)
    normalised = np.divide(probs, sums, out=np.full_like(probs, 1 / len(names)), where=sums > 0)
    picked = np.clip(normalised[np.arange(truth.size), truth], LOG_LOSS_EPSILON, 1.0)
    return MulticlassMetrics(
        count=int(truth.size),
        accuracy=float(np.mean(probs.argmax(axis=1) == truth)),
        log_loss=-float(np.mean(np.log(picked))),
    )


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> RegressionMetrics:
    """RMSE, MAE and R² (``None`` when the actuals are constant)."""
    truth = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    _same_length(truth, pred)
    if truth.size == 0:
        return RegressionMetrics(0, None, None, None)
    error = pred - truth
    ss_res = float(np.sum(error**2))
    ss_tot = float(np.sum((truth - truth.mean()) ** 2))
    return RegressionMetrics(
        count=int(truth.size),
        rmse=math.sqrt(ss_res / truth.size),
        mae=float(np.mean(np.abs(error))),
        r2=1 - ss_res / ss_tot if ss_tot > 0 else None,
    )


def join_by_association(
    prediction_ids: Sequence[str], actual_ids: Sequence[str]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row indexes ``(prediction_rows, actual_rows)`` of the ids present on both sides.

    Order follows the predictions; when an id has several actuals the last one wins (a
    corrected actual replaces the earlier one); a repeated prediction id keeps its first row.
    """
    latest = {str(a): i for i, a in enumerate(actual_ids)}
    seen: set[str] = set()
    pred_rows: list[int] = []
    actual_rows: list[int] = []
    for i, raw in enumerate(prediction_ids):
        key = str(raw)
        if key in seen or key not in latest:
            continue
        seen.add(key)
        pred_rows.append(i)
        actual_rows.append(latest[key])
    return np.asarray(pred_rows, dtype=np.int64), np.asarray(actual_rows, dtype=np.int64)
