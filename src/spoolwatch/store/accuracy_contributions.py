"""What accuracy rows add to the aggregate of their (model, prediction hour).

A row's state is the columns the aggregates read (:data:`State`,
:data:`~spoolwatch.store.accuracy.STATE_COLUMNS`); :func:`contributions` turns states into
one :class:`~spoolwatch.monitoring.accuracy_aggregate.AccuracyAggregate` per hour. The writes
(:mod:`spoolwatch.store.accuracy_folding`) and the rebuilds of migrations 7 and 9
(:mod:`spoolwatch.store.accuracy_rebuild`) both count with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from spoolwatch.monitoring.accuracy_aggregate import AccuracyAggregate
from spoolwatch.store.accuracy_columns import PROBABILITY_DTYPE
from spoolwatch.store.deployment import Deployment

__all__ = ["HOUR", "Key", "State", "contributions", "empty_aggregate"]

HOUR = 3600
#: A row's state: association id, model id, predicted at, predicted value, probabilities,
#: actual label, actual value (the columns the aggregates read).
State = tuple[str, str | None, int | None, float | None, bytes | None, str | None, float | None]
Key = tuple[str, int]


def empty_aggregate(deployment: Deployment) -> AccuracyAggregate:
    """An aggregate of no rows, in the deployment's shape."""
    return AccuracyAggregate(deployment.target_type, len(deployment.class_names))


def contributions(deployment: Deployment, states: Iterable[Sequence[Any]]) -> dict[Key, Any]:
    """What rows in ``states`` add to the aggregate of their (model, prediction hour)."""
    groups: dict[Key, tuple[list[int], list[Any], list[Any]]] = {}
    regression = deployment.target_type == "regression"
    multiclass = deployment.target_type == "multiclass"
    names = set(deployment.class_names)
    for _, model_id, at, value, packed, label, actual in states:
        if at is None or model_id is None:  # an actual still waiting for its prediction
            continue
        counts, predictions, actuals = groups.setdefault(
            (model_id, at // HOUR * HOUR), ([0, 0], [], [])
        )
        counts[0] += 1
        if label is None:
            continue
        counts[1] += 1
        if regression:
            usable, prediction, truth = value is not None and actual is not None, value, actual
        else:
            prediction = packed if multiclass else value
            usable, truth = prediction is not None and label in names, label
        if usable:
            predictions.append(prediction)
            actuals.append(truth)
    out = {}
    for key, (counts, predictions, actuals) in groups.items():
        if multiclass:
            width = len(deployment.class_names)
            joined = b"".join(bytes(p) for p in predictions)
            array: Any = np.frombuffer(joined, dtype=PROBABILITY_DTYPE).reshape(-1, width)
        else:
            array = np.asarray(predictions, dtype=np.float64)
        agg = AccuracyAggregate.of_pairs(
            deployment.target_type, deployment.class_names, array, actuals
        )
        agg.predicted, agg.actualized = counts
        out[key] = agg
    return out
