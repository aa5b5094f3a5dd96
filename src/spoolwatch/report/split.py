"""Split large reports into several records, as DataRobot's library does (spec §4.0).

Every part is a self-contained slice: rows ``[a, b)`` of every row array, with the report's
other fields (timestamp, modelId, batchId, classNames, requestParameters, skip flags) copied.
Nothing in a part says "part i of n"; parts are written consecutively.
"""

from __future__ import annotations

from typing import Any

from spoolwatch.records import dumps_payload

__all__ = [
    "CUSTOM_METRIC_HEADROOM",
    "DEFAULT_MAX_LINES_PER_CHUNK",
    "ROW_BYTES",
    "custom_metric_buckets_per_record",
    "rows_per_record",
    "split_actuals",
    "split_custom_metric",
    "split_predictions",
]

#: ``MLOPS_PREDICTIONS_DATA_MAX_LINES_PER_CHUNK`` default: the most rows one record may carry.
DEFAULT_MAX_LINES_PER_CHUNK = 10_000
#: DataRobot's library assumes 10 KiB per row when it derives rows per record from a byte limit.
ROW_BYTES = 10_240
#: A custom metric is split when its JSON plus this much would exceed the byte limit.
CUSTOM_METRIC_HEADROOM = 4_096

_ROW_ARRAYS = (
    "predictions",
    "associationIds",
    "forecastDistance",
    "rowIndex",
    "partition",
    "seriesId",
)


def rows_per_record(
    byte_limit: int,
    configured: int | None = None,
    max_lines: int = DEFAULT_MAX_LINES_PER_CHUNK,
) -> int:
    """``R = min(r, max_lines)``, ``r`` = ``configured`` if > 0 else ``byte_limit // 10240``.

    ``-1`` (never split) when neither a row count nor a byte limit is set.
    """
    if configured is not None and configured > 0:
        rows = configured
    elif byte_limit < 0:
        return -1
    else:
        rows = byte_limit // ROW_BYTES
    return min(rows, max_lines)


def custom_metric_buckets_per_record(byte_limit: int, configured: int | None = None) -> int:
    """Buckets per CUSTOM_METRIC part: ``configured`` if > 0, else ``byte_limit // 100``."""
    if configured is not None and configured > 0:
        return configured
    return byte_limit // 100


def _prediction_rows(payload: dict[str, Any]) -> int:
    rows = len(payload.get("predictions") or ())
    for values in (payload.get("features") or {}).values():
        rows = max(rows, len(values))
        break
    return rows


def _slice_predictions(payload: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    part: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "features":
            columns = {name: values[start:stop] for name, values in value.items()}
            # Time series may carry fewer feature rows than predictions; an empty slice is left
            # out so every part stays a valid record.
            if any(columns.values()):
                part[key] = columns
        elif key in _ROW_ARRAYS:
            if value[start:stop]:
                part[key] = value[start:stop]
        else:
            part[key] = value
    return part


def _too_big(payload: dict[str, Any], byte_limit: int) -> bool:
    return byte_limit >= 0 and len(dumps_payload(payload)) > byte_limit


def _bounds(rows: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, rows)) for start in range(0, rows, size)]


def split_predictions(payload: dict[str, Any], byte_limit: int, rows: int) -> list[dict[str, Any]]:
    """The PREDICTIONS_DATA parts of one report (one part when no split is needed)."""
    total = _prediction_rows(payload)
    if rows <= 0 or (total <= rows and not _too_big(payload, byte_limit)):
        return [payload]
    return [_slice_predictions(payload, start, stop) for start, stop in _bounds(total, rows)]


def split_actuals(payload: dict[str, Any], byte_limit: int, rows: int) -> list[dict[str, Any]]:
    """The ACTUALS_DATA parts; parts put ``modelId`` before ``actualsList``, as DataRobot does."""
    actuals = payload["actualsList"]
    if rows <= 0 or (len(actuals) <= rows and not _too_big(payload, byte_limit)):
        return [payload]
    head = {key: value for key, value in payload.items() if key != "actualsList"}
    return [
        {**head, "actualsList": actuals[start:stop]} for start, stop in _bounds(len(actuals), rows)
    ]


def split_custom_metric(
    payload: dict[str, Any], byte_limit: int, buckets_per_record: int
) -> list[dict[str, Any]]:
    """CUSTOM_METRIC parts: split when ``len(JSON) + 4096 > byte_limit``.

    Unlike DataRobot's library (whose parts cannot be written to JSON spools), every part is
    an ordinary record with the same keys as the whole.
    """
    buckets = payload["buckets"]
    if (
        byte_limit <= 0
        or buckets_per_record <= 0
        or (len(dumps_payload(payload)) + CUSTOM_METRIC_HEADROOM <= byte_limit)
    ):
        return [payload]
    return [
        {**payload, "buckets": buckets[start:stop]}
        for start, stop in _bounds(len(buckets), buckets_per_record)
    ]
