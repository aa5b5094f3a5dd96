"""What target drift watches: one value per prediction, whatever the model's type."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from spoolwatch.errors import ConfigError

__all__ = ["TargetType", "class_counts_from_mass", "prediction_values"]


class TargetType(StrEnum):
    """The kind of model, as told by the shape of its predictions."""

    REGRESSION = "regression"
    BINARY = "binary"
    MULTICLASS = "multiclass"


def prediction_values(
    predictions: Sequence[Any] | npt.NDArray[Any],
    class_names: Sequence[str] | None = None,
    *,
    positive_class: str | None = None,
) -> tuple[TargetType, npt.NDArray[Any]]:
    """The monitored value per prediction and the model type it implies.

    * regression (a number per row): the prediction, as float64;
    * binary (two probabilities per row, in ``class_names`` order): the probability of the
      positive class — ``positive_class`` if given, else the second class, as in
      ``classNames: ["legit", "fraud"]`` with rows ``[P(legit), P(fraud)]``;
    * multiclass (three or more probabilities per row): the predicted class name (argmax),
      as an object array, or the class index as a string when ``class_names`` is absent.

    Text predictions have no distribution to compare and raise :class:`ConfigError`.
    """
    array = np.asarray(predictions)
    if array.ndim == 1:
        if array.dtype.kind not in "iufb" and array.size:
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise ConfigError("text predictions have no target drift") from None
        return TargetType.REGRESSION, array.astype(np.float64)
    if array.ndim != 2 or array.shape[1] < 2:
        raise ConfigError(
            f"predictions of shape {array.shape} are neither numbers nor rows "
            "of class probabilities"
        )
    probabilities = array.astype(np.float64)
    n_classes = probabilities.shape[1]
    names = list(class_names) if class_names is not None else None
    if names is not None and len(names) != n_classes:
        raise ConfigError(f"{len(names)} class names for {n_classes} probabilities per row")
    if n_classes == 2:
        column = 1
        if positive_class is not None:
            if names is None or positive_class not in names:
                raise ConfigError(f"positive class {positive_class!r} is not in {names}")
            column = names.index(positive_class)
        return TargetType.BINARY, probabilities[:, column]
    labels = names if names is not None else [str(i) for i in range(n_classes)]
    return TargetType.MULTICLASS, np.asarray(labels, dtype=object)[probabilities.argmax(axis=1)]


def class_counts_from_mass(
    mass: Sequence[float] | npt.NDArray[Any], rows: int, rng: np.random.Generator | None = None
) -> npt.NDArray[Any]:
    """Whole counts per class, summing to ``rows``, whose expectation is ``mass``.

    ``mass`` is the sum of each class's predicted probabilities over ``rows`` rows. Each class
    gets the whole part of its mass; the rows left over (fewer than the number of classes) go
    to classes drawn in proportion to the fractional parts (with ``rng``, fresh entropy by
    default: a draw seeded by the input would count the same class for every identical
    one-row request, which is the bias this avoids).

    Target drift of a classifier compares these counts with the training labels' counts. A
    calibrated model on unchanged traffic expects as many rows of a class as its probabilities
    add up to, so the two agree; counting each row's most probable class (argmax) would not:
    it under-counts the rarer classes (a model predicting 0.3 for every row of a class that
    is 30 % of the rows counts it 0 times).
    """
    values = np.asarray(mass, dtype=np.float64)
    if rows < 0 or values.ndim != 1 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ConfigError("class probability sums must be finite and non-negative")
    total = float(values.sum())
    if rows == 0 or total <= 0:
        return np.zeros(values.size, dtype=np.int64)
    scaled = values * (rows / total)  # rows whose probabilities do not add up to 1 are rescaled
    counts = np.floor(scaled).astype(np.int64)
    left = rows - int(counts.sum())
    if left > 0:
        fractions = scaled - counts
        weights = fractions / fractions.sum() if fractions.sum() > 0 else None
        draws = (rng or np.random.default_rng()).choice(values.size, size=left, p=weights)
        counts += np.bincount(draws, minlength=values.size)
    return counts
