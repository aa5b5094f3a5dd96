"""Folding client-side aggregates (``predictionStats``) into the drift histograms.

DataRobot's stats aggregator sends, per feature, a histogram of centroids and counts (numeric)
or category counts, and per class the sum of its probabilities (``sum``) and the number of
rows it was predicted (``decisionCount``). Target drift counts each class's expected rows
from the sums, as for row-level predictions (``decisionCount`` only when the sums are absent).
These are re-counted over the deployment's baseline bins: each centroid's count goes to the
bin the centroid falls in, which is exact when the client's bins are finer than ours.

The aggregate's shape is only loosely validated by the body's schema, so its numbers are
checked here, as :mod:`spoolwatch.records.bounds` says: every count a whole number from 0
to 2**53, every ``sum`` finite and within its count times 1e289. Counts are binned with
their weights (never expanded into one value per row), so an absurd count costs nothing
but its refusal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection

from spoolwatch.errors import ConfigError, InvalidRecord
from spoolwatch.monitoring.baseline import FeatureBaseline
from spoolwatch.monitoring.histogram import merge_counts
from spoolwatch.monitoring.prediction import class_counts_from_mass
from spoolwatch.records.bounds import AGGREGATE_COUNT_MAX, count_problem, sum_problem
from spoolwatch.store.deployment import Deployment
from spoolwatch.store.drift_folding import DriftGroup, store_drift
from spoolwatch.store.folding import hour_of

__all__ = ["fold_prediction_stats"]


def _count(value: Any, field: str) -> int:
    """A count of the aggregate (missing: 0); InvalidRecord naming ``field`` otherwise."""
    if value is None:
        return 0
    whole = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value == int(value)
    )
    problem = count_problem(int(value)) if whole else f"must be a whole number, got {value!r}"
    if problem is not None:
        raise InvalidRecord(f"{field}: {problem}", field=field)
    return int(value)


def _counts(values: Any, field: str) -> list[int]:
    """A list of counts whose total a 64-bit count can hold."""
    counts = [_count(v, f"{field}.{i}") for i, v in enumerate(values or ())]
    if sum(counts) > AGGREGATE_COUNT_MAX:
        raise InvalidRecord(f"{field}: the counts add up to more than 2**63 - 1", field=field)
    return counts


def _sum(value: Any, count: int, field: str) -> float:
    """The sum of ``count`` values (missing: 0); InvalidRecord naming ``field`` otherwise."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        problem: str | None = f"must be a number, got {value!r}"
    else:
        problem = sum_problem(value, count)
    if problem is not None:
        raise InvalidRecord(f"{field}: {problem}", field=field)
    return float(value)


def _histogram_counts(
    baseline: FeatureBaseline, stats: Mapping[str, Any] | None, field: str
) -> Any:
    """A numeric histogram of centroids and their counts over the baseline's bins."""
    histogram = (stats or {}).get("histogram") or {}
    centroids = list(histogram.get("centroids") or ())
    counts = _counts(histogram.get("counts"), f"{field}.histogram.counts")
    if len(centroids) != len(counts):  # no histogram to re-count
        return np.zeros(baseline.n_bins, dtype=np.int64)
    return baseline.bin_weighted(np.asarray(centroids, dtype=np.float64), counts)


def _feature_counts(baseline: FeatureBaseline, entry: Mapping[str, Any], field: str) -> Any:
    stats = entry.get("stats") or {}
    if "numericStats" in stats:
        counts_out = _histogram_counts(baseline, stats["numericStats"], f"{field}.numericStats")
    else:
        categories = stats.get("categories") or {}
        names = list(categories.get("values") or ())
        weights = _counts(categories.get("counts"), f"{field}.categories.counts")
        if len(names) != len(weights):
            raise ValueError(f"{len(names)} categories for {len(weights)} counts")
        counts_out = baseline.bin_weighted(np.asarray(names, dtype=object), weights)
    missing = np.zeros_like(counts_out)
    missing[-1] = _count(stats.get("missingCount"), f"{field}.missingCount")
    return merge_counts(counts_out, missing)


def _fold_item(
    group: DriftGroup, deployment: Deployment, item: Mapping[str, Any], where: str
) -> int:
    baseline = deployment.baseline
    rows = 0
    for index, entry in enumerate(item.get("features") or ()):
        field = f"{where}.features.{index}.stats"
        stats = entry.get("stats") or {}
        numeric = stats.get("numericStats") or {}
        count = numeric.get("count") if numeric.get("count") else stats.get("count")
        missing = _count(stats.get("missingCount"), f"{field}.missingCount")
        rows = max(rows, _count(count, f"{field}.count") + missing)
        if baseline is not None and entry.get("name") in baseline.features:
            counts = _feature_counts(baseline.features[entry["name"]], entry, field)
            current = group.aggregate.features.get(entry["name"])
            group.aggregate.features[entry["name"]] = (
                counts if current is None else merge_counts(current, counts)
            )
    predictions = item.get("predictions")
    if isinstance(predictions, Mapping):
        predictions = [predictions]
    if predictions:
        rows = max(rows, _fold_predictions(group, deployment, item, predictions, where))
    group.rows += rows
    return rows


def _fold_predictions(
    group: DriftGroup,
    deployment: Deployment,
    item: Mapping[str, Any],
    predictions: Sequence[Mapping[str, Any]],
    where: str,
) -> int:
    field = f"{where}.predictions"
    count = _count(predictions[0].get("count"), f"{field}.0.count")
    group.prediction_rows += count
    target = deployment.baseline.target if deployment.baseline is not None else None
    names = list(item.get("classNames") or deployment.class_names)
    monitored = 0 if len(predictions) == 1 else 1 if len(predictions) == 2 else None
    if monitored is not None:  # regression's value, or a binary model's positive class
        group.prediction_sum += _sum(
            predictions[monitored].get("sum"), count, f"{field}.{monitored}.sum"
        )
    if target is None or (target.kind.value == "categorical") != (len(predictions) > 1):
        return count
    if len(predictions) == 1:
        counts = _histogram_counts(target, predictions[0], f"{field}.0")
    else:
        labels = (
            names if len(names) == len(predictions) else [str(i) for i in range(len(predictions))]
        )
        weights = _class_counts(predictions, count, field)
        counts = target.bin_weighted(np.asarray(labels, dtype=object), weights)
    current = group.aggregate.target
    group.aggregate.target = counts if current is None else merge_counts(current, counts)
    return count


def _class_counts(predictions: Sequence[Mapping[str, Any]], rows: int, field: str) -> list[int]:
    """Rows per class from the sums of its probabilities (see ``class_counts_from_mass``);
    the predicted-class counts (``decisionCount``) when the sums are missing or unusable."""
    try:
        return [
            int(n) for n in class_counts_from_mass([float(p["sum"]) for p in predictions], rows)
        ]
    except (KeyError, TypeError, ValueError, ConfigError):
        return _counts([p.get("decisionCount") for p in predictions], f"{field}.decisionCount")


def fold_prediction_stats(
    conn: Connection, deployment: Deployment, items: Sequence[Mapping[str, Any]]
) -> int:
    """Fold ``predictionStats`` items into the drift histograms; return the row count."""
    cache: dict[str, int] = {}
    groups: dict[tuple[str, int], DriftGroup] = {}
    total = 0
    for position, item in enumerate(items):
        key = (item.get("modelId") or deployment.model_id, hour_of(item["timestamp"], cache))
        where = f"data.{position}"
        group = groups.setdefault(key, DriftGroup(where))
        try:
            total += _fold_item(group, deployment, item, where)
        except (TypeError, ValueError, AttributeError, KeyError, ConfigError) as exc:
            # The aggregate's shape is only loosely validated; a broken one refuses the request.
            raise InvalidRecord(f"{where}: malformed aggregate ({exc})", field=where) from None
    store_drift(conn, deployment.id, groups)
    return total
