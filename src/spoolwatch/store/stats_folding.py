"""Folding client-side aggregates (``predictionStats``) into the drift histograms.

DataRobot's stats aggregator sends, per feature, a histogram of centroids and counts (numeric)
or category counts, and per class the sum of its probabilities (``sum``) and the number of
rows it was predicted (``decisionCount``). Target drift counts each class's expected rows
from the sums, as for row-level predictions (``decisionCount`` only when the sums are absent).
These are re-counted over the deployment's baseline bins: each centroid's count goes to the
bin the centroid falls in, which is exact when the client's bins are finer than ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection

from spoolwatch.errors import ConfigError, InvalidRecord
from spoolwatch.monitoring.baseline import FeatureBaseline
from spoolwatch.monitoring.histogram import merge_counts
from spoolwatch.monitoring.prediction import class_counts_from_mass
from spoolwatch.store.deployments import Deployment
from spoolwatch.store.drift_folding import DriftGroup, store_drift
from spoolwatch.store.folding import hour_of

__all__ = ["fold_prediction_stats"]


def _numeric_values(stats: Mapping[str, Any] | None) -> tuple[np.ndarray[Any, Any], int]:
    histogram = (stats or {}).get("histogram") or {}
    centroids = np.asarray(histogram.get("centroids") or [], dtype=np.float64)
    counts = np.asarray(histogram.get("counts") or [], dtype=np.int64)
    if centroids.shape != counts.shape:
        return np.zeros(0), 0
    return np.repeat(centroids, np.maximum(counts, 0)), int((stats or {}).get("count") or 0)


def _feature_counts(baseline: FeatureBaseline, entry: Mapping[str, Any]) -> Any:
    stats = entry.get("stats") or {}
    if "numericStats" in stats:
        values, _ = _numeric_values(stats["numericStats"])
    else:
        categories = stats.get("categories") or {}
        names, counts = categories.get("values") or [], categories.get("counts") or []
        values = np.repeat(np.asarray(names, dtype=object), np.asarray(counts, dtype=np.int64))
    counts_out = baseline.bin_counts(values)
    counts_out[-1] += int(stats.get("missingCount") or 0)
    return counts_out


def _fold_item(group: DriftGroup, deployment: Deployment, item: Mapping[str, Any]) -> int:
    baseline = deployment.baseline
    rows = 0
    for entry in item.get("features") or ():
        stats = entry.get("stats") or {}
        numeric = stats.get("numericStats") or {}
        rows = max(
            rows,
            int(numeric.get("count") or stats.get("count") or 0)
            + int(stats.get("missingCount") or 0),
        )
        if baseline is not None and entry.get("name") in baseline.features:
            counts = _feature_counts(baseline.features[entry["name"]], entry)
            current = group.aggregate.features.get(entry["name"])
            group.aggregate.features[entry["name"]] = (
                counts if current is None else merge_counts(current, counts)
            )
    predictions = item.get("predictions")
    if isinstance(predictions, Mapping):
        predictions = [predictions]
    if predictions:
        rows = max(rows, _fold_predictions(group, deployment, item, predictions))
    group.rows += rows
    return rows


def _fold_predictions(
    group: DriftGroup,
    deployment: Deployment,
    item: Mapping[str, Any],
    predictions: Sequence[Mapping[str, Any]],
) -> int:
    count = int(predictions[0].get("count") or 0)
    group.prediction_rows += count
    target = deployment.baseline.target if deployment.baseline is not None else None
    names = list(item.get("classNames") or deployment.class_names)
    if len(predictions) == 1:
        group.prediction_sum += float(predictions[0].get("sum") or 0.0)
        values, _ = _numeric_values(predictions[0])
    else:
        if len(predictions) == 2:
            group.prediction_sum += float(predictions[1].get("sum") or 0.0)
        labels = (
            names if len(names) == len(predictions) else [str(i) for i in range(len(predictions))]
        )
        values = np.repeat(np.asarray(labels, dtype=object), _class_counts(predictions, count))
    if target is not None and (target.kind.value == "categorical") == (len(predictions) > 1):
        counts = target.bin_counts(values)
        current = group.aggregate.target
        group.aggregate.target = counts if current is None else merge_counts(current, counts)
    return count


def _class_counts(predictions: Sequence[Mapping[str, Any]], rows: int) -> Any:
    """Rows per class from the sums of its probabilities (see ``class_counts_from_mass``);
    the predicted-class counts (``decisionCount``) when the sums are missing or unusable."""
    try:
        return class_counts_from_mass([float(p["sum"]) for p in predictions], rows)
    except (KeyError, TypeError, ValueError, ConfigError):
        return [int(p.get("decisionCount") or 0) for p in predictions]


def fold_prediction_stats(
    conn: Connection, deployment: Deployment, items: Sequence[Mapping[str, Any]]
) -> int:
    """Fold ``predictionStats`` items into the drift histograms; return the row count."""
    cache: dict[str, int] = {}
    groups: dict[tuple[str, int], DriftGroup] = {}
    total = 0
    for position, item in enumerate(items):
        key = (item.get("modelId") or deployment.model_id, hour_of(item["timestamp"], cache))
        try:
            total += _fold_item(groups.setdefault(key, DriftGroup()), deployment, item)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # The aggregate's shape is only loosely validated; a broken one refuses the request.
            field = f"data.{position}"
            raise InvalidRecord(f"{field}: malformed aggregate ({exc})", field=field) from None
    store_drift(conn, deployment.id, groups)
    return total
