"""What target drift watches: one value per prediction, whatever the model's type."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from spoolwatch.errors import ConfigError

__all__ = ["TargetType", "prediction_values"]


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
