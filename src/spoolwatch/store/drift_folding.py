"""Folding prediction rows into the hourly drift histograms, one binning per hour.

A ``predictionInputs`` request of a real model holds many small items (DataRobot's library
writes 25 rows per record on SQS, and the agent merges a hundred records into one request).
Binning each item's columns on its own costs more than the binning itself, so
:class:`DriftFold` first collects every item's values per (model, hour) and feature, then
bins each feature's values once. Values are binned exactly as they would be item by item
(numbers, text as missing in numeric columns, categories by their text); when the joined
values cannot be binned (nested lists, ragged predictions) the items are binned one by one,
so the error names the item as before and mixed prediction shapes count as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection

from spoolwatch.errors import ConfigError, InvalidRecord
from spoolwatch.monitoring.baseline import Baseline
from spoolwatch.monitoring.histogram import DriftAggregate, merge_counts
from spoolwatch.monitoring.prediction import class_counts_from_mass, prediction_values
from spoolwatch.records.bounds import VALUE_MAX, aggregate_count_problem, value_problem
from spoolwatch.store import schema
from spoolwatch.store.aggregate_rows import StoredDrift, drift_row
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.sql import hourly_rows
from spoolwatch.store.upsert import upsert

__all__ = ["DriftFold", "DriftGroup", "store_drift"]

#: ``(model id, hour)``: the row of ``drift_hourly`` a group folds into.
Key = tuple[str, int]


class DriftGroup:
    """What one (model, hour) adds to its drift row: counts, rows and the prediction sum;
    ``where`` names its first item in the body (``data.3``), for errors about the row."""

    __slots__ = ("aggregate", "prediction_rows", "prediction_sum", "rows", "where")

    def __init__(self, where: str = "data") -> None:
        self.aggregate = DriftAggregate()
        self.rows = 0
        self.prediction_rows = 0
        self.prediction_sum = 0.0
        self.where = where

    def add_target(self, counts: np.ndarray[Any, Any] | None, total: float) -> None:
        """Fold in target counts (``None``: nothing to count) and a prediction sum."""
        self.prediction_sum += total
        if counts is not None:
            current = self.aggregate.target
            self.aggregate.target = counts if current is None else merge_counts(current, counts)


class _Pending:
    """Values collected for one group, binned by :meth:`DriftFold.bin`."""

    __slots__ = ("columns", "predictions")

    def __init__(self) -> None:
        #: feature name → [(field of the item's values, values)]
        self.columns: dict[str, list[tuple[str, list[Any]]]] = {}
        #: class names → (field of the item's predictions, predictions) of the items
        self.predictions: dict[tuple[str, ...], list[tuple[str, list[Any]]]] = {}


class DriftFold:
    """The drift part of folding ``predictionInputs`` items into one deployment's rows."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.groups: dict[Key, DriftGroup] = {}
        self._pending: dict[Key, _Pending] = {}

    def add(self, key: Key, item: Mapping[str, Any], where: str) -> int:
        """Collect one item (``where``: its place in the body, for errors); return its rows."""
        columns = item.get("features") or []
        predictions = item.get("predictions")
        rows = len(columns[0]["values"]) if columns else len(predictions or ())
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = DriftGroup(where)
        group.rows += rows
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending()
        baseline = self.deployment.baseline
        if baseline is not None:
            for index, column in enumerate(columns):
                field = f"{where}.features.{index}.values"
                values = column["values"]
                if values and isinstance(values[0], list):
                    # Bin a nested column alone: it cannot be binned, but joined to flat
                    # columns it would pass as missing values.
                    _bin_feature(group.aggregate, baseline, column["name"], [(field, values)])
                    continue
                pending.columns.setdefault(column["name"], []).append((field, values))
        if predictions:
            group.prediction_rows += len(predictions)
            names = tuple(item.get("classNames") or self.deployment.class_names or ())
            pending.predictions.setdefault(names, []).append((f"{where}.predictions", predictions))
        return rows

    def bin(self) -> None:
        """Bin what was collected into the groups' aggregates (InvalidRecord naming the item
        whose values cannot be binned)."""
        baseline = self.deployment.baseline
        for key, pending in self._pending.items():
            group = self.groups[key]
            if baseline is not None:
                for name, parts in pending.columns.items():
                    _bin_feature(group.aggregate, baseline, name, parts)
            for names, predictions in pending.predictions.items():
                _bin_predictions(group, baseline or Baseline({}), names, predictions)
        self._pending.clear()

    def store(self, conn: Connection) -> None:
        """Bin, then merge the groups into their stored rows."""
        self.bin()
        store_drift(conn, self.deployment.id, self.groups)


def _bin_feature(
    aggregate: DriftAggregate, baseline: Baseline, name: str, parts: list[tuple[str, list[Any]]]
) -> None:
    joined = parts[0][1] if len(parts) == 1 else list(chain.from_iterable(v for _, v in parts))
    try:
        aggregate.add(baseline, {name: joined})
        return
    except (TypeError, ValueError):
        pass
    for field, values in parts:  # item by item, to name the one at fault
        try:
            aggregate.add(baseline, {name: values})
        except (TypeError, ValueError):
            # Nested lists or objects cannot be binned; the whole request is refused.
            raise InvalidRecord(
                f"{field}: values must be numbers, strings, booleans or null", field=field
            ) from None


def _bin_predictions(
    group: DriftGroup,
    baseline: Baseline,
    names: tuple[str, ...],
    parts: list[tuple[str, list[Any]]],
) -> None:
    class_names = list(names) or None
    if len(parts) > 1:
        joined = list(chain.from_iterable(values for _, values in parts))
        try:
            counted = target_counts(baseline, joined, class_names)
        except _OutOfBounds:
            counted = None  # item by item below, to name the one at fault
        if counted is not None:
            group.add_target(*counted)
            return
    for field, part in parts:  # one item, or items whose predictions differ in shape
        try:
            counted = target_counts(baseline, part, class_names)
        except _OutOfBounds as exc:
            raise InvalidRecord(f"{field}: {exc}", field=field) from None
        group.add_target(*(counted or (None, 0.0)))


class _OutOfBounds(ValueError):
    """A monitored prediction value beyond :data:`~spoolwatch.records.bounds.VALUE_MAX`."""


def target_counts(
    baseline: Baseline, predictions: list[Any], class_names: Sequence[str] | None
) -> tuple[np.ndarray[Any, Any] | None, float] | None:
    """Counts over the target baseline and the sum of the monitored numeric value; ``None``
    when the predictions have no monitored value (text, ragged). A monitored value beyond
    ±1e289 (:mod:`spoolwatch.records.bounds`; it enters the hour's prediction sum) raises
    :class:`_OutOfBounds`."""
    try:
        _, monitored = prediction_values(predictions, class_names or None)
    except (ConfigError, ValueError, TypeError, OverflowError):  # text or ragged predictions
        return None
    total = 0.0
    if monitored.dtype.kind == "f":
        # NaN (a missing prediction) is not summed; infinity or an absurd value is refused.
        if bool((np.abs(monitored) > VALUE_MAX).any()):
            largest = float(np.nanmax(np.abs(monitored)))
            raise _OutOfBounds(value_problem(largest) or "a value beyond the bounds")
        total = float(np.nansum(monitored))
    target = baseline.target
    if target is None:
        return None, total
    if target.kind.value == "categorical":
        # Classification baselines hold class labels: count the rows each class is expected
        # to have, the sums of its probabilities (see class_counts_from_mass for why not argmax).
        probabilities = np.asarray(predictions, dtype=np.float64)
        if probabilities.ndim != 2:
            return None, total
        labels = list(class_names or baseline.class_names)
        if len(labels) != probabilities.shape[1]:
            return None, total
        try:
            counts = class_counts_from_mass(probabilities.sum(axis=0), probabilities.shape[0])
        except ConfigError:  # negative or non-finite probabilities
            return None, total
        return target.bin_counts(np.repeat(np.asarray(labels, dtype=object), counts)), total
    return target.bin_counts(monitored), total


def store_drift(conn: Connection, deployment_id: str, groups: Mapping[Key, DriftGroup]) -> None:
    """Merge ``groups`` into the deployment's ``drift_hourly`` rows (read, merge, upsert).

    The prediction sums stay finite: every summed prediction is within ±1e289 (checked
    when binned), so an hour's sum is within its prediction count times that. Counts are
    exact; a group that would take a row past what the store holds (2**63 - 1) is refused,
    naming its first item. A stored row is read as :mod:`spoolwatch.store.aggregate_rows`
    says (what cannot be read is replaced by what is folded).
    """
    if not groups:
        return
    columns = "rows, prediction_rows, prediction_sum, aggregate"
    old_rows = hourly_rows(conn, "drift_hourly", columns, deployment_id, groups)
    rows = []
    for (model_id, hour), group in groups.items():
        old = old_rows.get((model_id, hour))
        stored = None
        if old is not None:
            stored = drift_row(old, f"deployment {deployment_id}, model {model_id}, hour {hour}")
        rows.append(
            _merged_row(group, stored)
            | {"deployment_id": deployment_id, "model_id": model_id, "hour": hour}
        )
    upsert(
        conn,
        schema.drift_hourly,
        rows,
        replace=("rows", "prediction_rows", "prediction_sum", "aggregate"),
    )


def _merged_row(group: DriftGroup, stored: StoredDrift | None) -> dict[str, Any]:
    """The columns of a group merged with its stored row; InvalidRecord when they overflow."""
    aggregate = group.aggregate
    n, pn, ps = group.rows, group.prediction_rows, group.prediction_sum
    try:
        if stored is not None:
            aggregate = stored.aggregate.merge(aggregate)
            n, pn, ps = n + stored.rows, pn + stored.prediction_rows, ps + stored.prediction_sum
        problem = aggregate_count_problem(max(n, pn))
    except ConfigError as exc:  # counts past 64 bits, or bins of another baseline
        problem = str(exc)
    if problem is not None:
        raise InvalidRecord(f"{group.where}: {problem}", field=group.where)
    return {
        "rows": n,
        "prediction_rows": pn,
        "prediction_sum": ps,
        "aggregate": orjson.dumps(aggregate.to_dict()).decode(),
    }
