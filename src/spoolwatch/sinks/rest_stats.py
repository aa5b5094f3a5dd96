"""PREDICTION_STATS payloads → ``predictionStats`` items (spec §5.2).

Statistics aggregated on the model's side change shape on the way to the REST API: maps of
features become lists of named entries, histograms become centroid and count lists.
"""

from __future__ import annotations

from typing import Any

__all__ = ["prediction_stats_item"]


def _numeric_stats(stat: dict[str, Any], *, with_missing: bool) -> dict[str, Any]:
    histogram = stat.get("histogram")
    buckets = histogram.get("bucketList") if isinstance(histogram, dict) else None
    converted = None
    if isinstance(buckets, list):
        converted = {
            "centroids": [b.get("centroid") for b in buckets],
            "counts": [b.get("count") for b in buckets],
        }
    numeric = {
        "count": stat.get("count"),
        "min": stat.get("min"),
        "max": stat.get("max"),
        "sum": stat.get("sum"),
        "sumOfSquares": stat.get("sumOfSquares"),
        "histogram": converted,
        "decisionCount": stat.get("decisionCount"),
    }
    if not with_missing:
        return numeric
    return {"numericStats": numeric, "missingCount": stat.get("missingCount")}


def _feature_stats(numeric: Any, categorical: Any) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    for name, stat in (numeric or {}).items():
        features.append({"name": name, "stats": _numeric_stats(stat, with_missing=True)})
    for name, stat in (categorical or {}).items():
        counts = stat.get("categoryCounts") or {}
        features.append(
            {
                "name": name,
                "stats": {
                    "count": stat.get("count"),
                    "missingCount": stat.get("missingCount"),
                    "categories": {"values": list(counts), "counts": list(counts.values())},
                },
            }
        )
    return features


def _prediction_stats(aggregate: Any, class_names: Any) -> Any:
    aggregate = aggregate or {}
    if not aggregate:
        return None
    if class_names:
        return [
            _numeric_stats(aggregate[name], with_missing=False)
            for name in class_names
            if name in aggregate
        ]
    if len(aggregate) == 1:
        return _numeric_stats(next(iter(aggregate.values())), with_missing=False)
    return [_numeric_stats(stat, with_missing=False) for stat in aggregate.values()]


def prediction_stats_item(payload: dict[str, Any]) -> dict[str, Any]:
    """A PREDICTION_STATS payload as a ``predictionStats`` item (spec §5.2)."""
    item: dict[str, Any] = {
        k: payload[k] for k in ("timestamp", "modelId", "batchId", "classNames") if k in payload
    }
    class_names = payload.get("classNames")
    features = _feature_stats(
        payload.get("numericAggregateMap"), payload.get("categoricalAggregateMap")
    )
    if features:
        item["features"] = features
    segment_map = (payload.get("segmentAttributesAggregatedStats") or {}).get("segmentStatsMap")
    segments = []
    for attribute, values in (segment_map or {}).items():
        data = []
        for value, stats in values.items():
            entry: dict[str, Any] = {
                "value": value,
                "features": _feature_stats(
                    stats.get("numericAggregateMap"), stats.get("categoricalAggregateMap")
                ),
            }
            predictions = _prediction_stats(stats.get("predictionAggregateMap"), class_names)
            if predictions is not None:
                entry["predictions"] = (
                    predictions if isinstance(predictions, list) else [predictions]
                )
            data.append(entry)
        segments.append({"name": attribute, "data": data})
    if segments:
        item["segments"] = segments
    predictions = _prediction_stats(payload.get("predictionAggregateMap"), class_names)
    if predictions is not None:
        item["predictions"] = predictions
    return item
