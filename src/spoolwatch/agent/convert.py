"""Records → DataRobot ingestion REST requests (spec §5.2), and merging them.

Pure code, no I/O. :func:`convert_record` turns one record into a :class:`Piece` (the path
and the JSON of what it adds to a body); :func:`merge_pieces` joins the pieces of a batch that
go to the same path with the same top-level fields into one :class:`Request` — whatever lies
between them — up to a byte and record limit.

====================  ===================================================  ===================
DataType              path under ``/api/v2/``                              body
====================  ===================================================  ===================
DEPLOYMENT_STATS      ``deployments/{d}/predictionRequests/fromJSON/``     ``{"data": [...]}``
PREDICTIONS_DATA      ``deployments/{d}/predictionInputs/fromJSON/``       ``data`` + skip flags
ACTUALS_DATA          ``deployments/{d}/actuals/fromJSON/``                ``{"data": [...]}``
CUSTOM_METRIC         ``deployments/{d}/customMetrics/{m}/fromJSON/``      ``modelId, buckets``
PREDICTION_STATS      ``deployments/{d}/predictionStats/fromJSON/``        ``{"data": [...]}``
EVENT                 ``remoteEvents/``                                    the payload itself
====================  ===================================================  ===================

The idempotency key of a request is derived from the ids of its records only
(:func:`idempotency_key`), so the same records re-sent after a restart carry the same key.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from spoolwatch.errors import InvalidRecord
from spoolwatch.records import DataType, Record

__all__ = [
    "Piece",
    "Request",
    "convert_record",
    "idempotency_key",
    "merge_pieces",
    "prediction_stats_item",
    "predictions_item",
]

_TIME_SERIES_KEYS = ("forecastDistance", "rowIndex", "partition", "seriesId")
_SKIP_FLAGS = ("skipDriftTracking", "skipAccuracyTracking")
_DUMP = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


@dataclass(frozen=True, slots=True)
class Piece:
    """What one record adds to a request.

    ``items`` are JSON texts joined with ``,`` inside the body's list; ``head`` and ``tail``
    wrap that list. Pieces merge when ``path``, ``head`` and ``tail`` are equal and
    ``mergeable`` is true (events are posted one by one).
    """

    path: str
    head: bytes
    items: tuple[bytes, ...]
    tail: bytes
    record_id: str | None
    rows: int
    mergeable: bool = True


@dataclass(frozen=True, slots=True)
class Request:
    """One POST: path under ``/api/v2/``, JSON body, and the records it carries (by index)."""

    path: str
    body: bytes
    record_ids: tuple[str, ...]
    indexes: tuple[int, ...]
    rows: int
    #: Items each record put into the body's list, in body order (``X-Spoolwatch-Record-Items``):
    #: lets the service drop exactly the items of records it already has.
    item_counts: tuple[int, ...] = ()

    @property
    def idempotency_key(self) -> str:
        """Deterministic from the record ids (see :func:`idempotency_key`)."""
        return idempotency_key(self.record_ids)


def idempotency_key(record_ids: Sequence[str]) -> str:
    """``sw1-`` + the first 32 hex digits of SHA-256 over the ids joined by newlines.

    The ids alone decide the key: the same records in the same order always give the same
    key, whoever sends them and whenever.
    """
    digest = hashlib.sha256("\n".join(record_ids).encode("utf-8")).hexdigest()
    return f"sw1-{digest[:32]}"


def _dumps(value: Any) -> bytes:
    try:
        # Payloads decoded from JSON have string keys and no numpy values: the fast path.
        return orjson.dumps(value)
    except TypeError:
        return orjson.dumps(value, option=_DUMP)


@functools.lru_cache(maxsize=8)
def _predictions_tail(flags: tuple[str, ...]) -> bytes:
    return b"]" + b"".join(b',"%s":true' % flag.encode() for flag in flags) + b"}"


@functools.lru_cache(maxsize=4096)
def _path(deployment_id: str, endpoint: str) -> str:
    return f"deployments/{quote(deployment_id, safe='')}/{endpoint}/fromJSON/"


def _deployment_path(record: Record, endpoint: str) -> str:
    if not record.deployment_id:
        raise InvalidRecord(
            "record has no deployment id and cannot be routed",
            record_id=record.id,
            field="header.deploymentId",
        )
    return _path(record.deployment_id, endpoint)


def predictions_item(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bool]]:
    """A PREDICTIONS_DATA payload as a ``predictionInputs`` item, plus its top-level flags."""
    item: dict[str, Any] = {}
    time_series: dict[str, Any] = {}
    flags: dict[str, bool] = {}
    for key, value in payload.items():
        if key == "features" and isinstance(value, dict):
            item[key] = [{"name": name, "values": values} for name, values in value.items()]
        elif key in _TIME_SERIES_KEYS:
            continue
        elif key in _SKIP_FLAGS:
            if value:
                flags[key] = True
        else:
            item[key] = value
    for key in _TIME_SERIES_KEYS:
        if key in payload:
            time_series[key] = payload[key]
    if time_series:
        item["timeSeriesPredictionsReport"] = time_series
    return item, flags


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


_DATA_HEAD = b'{"data":['


def convert_record(record: Record) -> Piece:
    """One record as a request piece; raises InvalidRecord when it cannot be converted.

    A record without an id (possible from other producers) gets one from its content,
    ``sha256-<32 hex digits>`` of the path and body parts, so its idempotency key is still
    stable and distinct from other records'.
    """
    piece = _convert(record)
    if piece.record_id is not None:
        return piece
    digest = hashlib.sha256(piece.path.encode() + b"\0" + piece.head + b"\0".join(piece.items))
    return dataclasses.replace(piece, record_id=f"sha256-{digest.hexdigest()[:32]}")


def _convert(record: Record) -> Piece:
    payload = record.payload
    data_type = record.known_type
    rows = record.row_count()
    if data_type == DataType.DEPLOYMENT_STATS:
        return Piece(
            _deployment_path(record, "predictionRequests"),
            _DATA_HEAD,
            (_dumps(payload),),
            b"]}",
            record.id,
            rows,
        )
    if data_type == DataType.PREDICTIONS_DATA:
        item, flags = predictions_item(payload)
        return Piece(
            _deployment_path(record, "predictionInputs"),
            _DATA_HEAD,
            (_dumps(item),),
            _predictions_tail(tuple(k for k in _SKIP_FLAGS if k in flags)),
            record.id,
            rows,
        )
    if data_type == DataType.ACTUALS_DATA:
        actuals = payload.get("actualsList") or []
        if not actuals:
            raise InvalidRecord(
                "ACTUALS_DATA record has no actuals", record_id=record.id, field="actualsList"
            )
        return Piece(
            _deployment_path(record, "actuals"),
            _DATA_HEAD,
            tuple(_dumps(a) for a in actuals),
            b"]}",
            record.id,
            rows,
        )
    if data_type == DataType.CUSTOM_METRIC:
        metric = payload.get("customMetricId")
        if not isinstance(metric, str) or not metric:
            raise InvalidRecord(
                "CUSTOM_METRIC record has no customMetricId",
                record_id=record.id,
                field="customMetricId",
            )
        path = _deployment_path(record, f"customMetrics/{quote(metric, safe='')}")
        head = b'{"modelId":' + _dumps(payload.get("modelId")) + b',"buckets":['
        buckets = payload.get("buckets") or []
        return Piece(path, head, tuple(_dumps(b) for b in buckets), b"]}", record.id, rows)
    if data_type == DataType.PREDICTION_STATS:
        return Piece(
            _deployment_path(record, "predictionStats"),
            _DATA_HEAD,
            (_dumps(prediction_stats_item(payload)),),
            b"]}",
            record.id,
            rows,
        )
    if data_type == DataType.EVENT:
        if not record.deployment_id:
            _deployment_path(record, "")
        return Piece(
            "remoteEvents/", b"", (_dumps(payload),), b"", record.id, rows, mergeable=False
        )
    raise InvalidRecord(f"{record.type_name} records have no REST destination", record_id=record.id)


def merge_pieces(
    pieces: Iterable[tuple[int, Piece]], *, max_bytes: int, max_records: int
) -> list[Request]:
    """Join the pieces that go to the same destination into requests, whatever lies between.

    Pieces with equal ``path``, ``head`` and ``tail`` (and ``mergeable``) form one group, in
    input order; a group becomes as many requests as ``max_bytes`` and ``max_records``
    demand. Requests come out in the order their first piece came in. Within a request, and
    between the requests of one group, records keep their input order; across destinations
    no order is kept (the service needs none: aggregates add up in any order, and actuals
    join their predictions whichever arrives first).

    ``pieces`` are ``(index, piece)`` pairs; the index comes back in :attr:`Request.indexes`
    so the caller can ack exactly the records a request carried. A single piece larger than
    ``max_bytes`` still makes one request of its own.
    """
    open_groups: dict[tuple[str, bytes, bytes], _Group] = {}
    built: list[tuple[int, Request]] = []
    for index, piece in pieces:
        if not piece.mergeable:
            built.append((index, _build([(index, piece)])))
            continue
        key = (piece.path, piece.head, piece.tail)
        group = open_groups.get(key)
        piece_size = sum(len(i) + 1 for i in piece.items)
        if group is not None and (
            len(group.members) >= max_records or group.size + piece_size > max_bytes
        ):
            built.append((group.members[0][0], _build(group.members)))
            group = None
        if group is None:
            group = open_groups[key] = _Group(len(piece.head) + len(piece.tail))
        group.members.append((index, piece))
        group.size += piece_size
    built.extend((g.members[0][0], _build(g.members)) for g in open_groups.values())
    built.sort(key=lambda entry: entry[0])
    return [request for _, request in built]


class _Group:
    """The pieces of one destination waiting to become a request."""

    __slots__ = ("members", "size")

    def __init__(self, size: int) -> None:
        self.members: list[tuple[int, Piece]] = []
        self.size = size


def _build(group: list[tuple[int, Piece]]) -> Request:
    first = group[0][1]
    items = b",".join(item for _, piece in group for item in piece.items)
    return Request(
        path=first.path,
        body=first.head + items + first.tail,
        record_ids=tuple(p.record_id for _, p in group if p.record_id is not None),
        indexes=tuple(i for i, _ in group),
        rows=sum(p.rows for _, p in group),
        item_counts=tuple(len(p.items) for _, p in group if p.record_id is not None),
    )
