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
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any
from urllib.parse import quote

import orjson

from spoolwatch.errors import InvalidRecord
from spoolwatch.records import DataType, Record
from spoolwatch.sinks.rest_stats import prediction_stats_item

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
#: Payload keys that do not go into a predictions item as they are.
_MOVED_KEYS = frozenset((*_TIME_SERIES_KEYS, *_SKIP_FLAGS))
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


def _dumps_each(values: list[Any]) -> tuple[bytes, ...]:
    """The JSON of every value, as :func:`_dumps` gives it, one C-level pass in the usual case."""
    try:
        return tuple(map(orjson.dumps, values))
    except TypeError:
        # The options only change what plain orjson refuses, so redoing all is the same.
        return tuple(orjson.dumps(value, option=_DUMP) for value in values)


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
    if payload.keys().isdisjoint(_MOVED_KEYS):
        # The usual payload: the item is the payload with its features as a list, in place.
        item = payload.copy()
        features = item.get("features")
        if isinstance(features, dict):
            item["features"] = [
                {"name": name, "values": values} for name, values in features.items()
            ]
        return item, {}
    item = {}
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
    converter = _CONVERTERS.get(record.known_type)
    if converter is None:
        raise InvalidRecord(
            f"{record.type_name} records have no REST destination", record_id=record.id
        )
    return converter(record)


def _deployment_stats(record: Record) -> Piece:
    path = _deployment_path(record, "predictionRequests")
    return Piece(path, _DATA_HEAD, (_dumps(record.payload),), b"]}", record.id, 0)


def _predictions(record: Record) -> Piece:
    path = _deployment_path(record, "predictionInputs")
    item, flags = predictions_item(record.payload)
    tail = _predictions_tail(tuple(k for k in _SKIP_FLAGS if k in flags)) if flags else b"]}"
    return Piece(path, _DATA_HEAD, (_dumps(item),), tail, record.id, record.row_count())


def _actuals(record: Record) -> Piece:
    actuals = record.payload.get("actualsList") or []
    if not actuals:
        raise InvalidRecord(
            "ACTUALS_DATA record has no actuals", record_id=record.id, field="actualsList"
        )
    path = _deployment_path(record, "actuals")
    return Piece(path, _DATA_HEAD, _dumps_each(actuals), b"]}", record.id, record.row_count())


def _custom_metric(record: Record) -> Piece:
    payload = record.payload
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
    return Piece(path, head, _dumps_each(buckets), b"]}", record.id, 0)


def _prediction_stats(record: Record) -> Piece:
    path = _deployment_path(record, "predictionStats")
    item = _dumps(prediction_stats_item(record.payload))
    return Piece(path, _DATA_HEAD, (item,), b"]}", record.id, 0)


def _event(record: Record) -> Piece:
    if not record.deployment_id:
        _deployment_path(record, "")
    return Piece("remoteEvents/", b"", (_dumps(record.payload),), b"", record.id, 0, False)


#: One converter per routable type: a lookup instead of comparing the type with each in turn.
_CONVERTERS: dict[DataType | None, Callable[[Record], Piece]] = {
    DataType.DEPLOYMENT_STATS: _deployment_stats,
    DataType.PREDICTIONS_DATA: _predictions,
    DataType.ACTUALS_DATA: _actuals,
    DataType.CUSTOM_METRIC: _custom_metric,
    DataType.PREDICTION_STATS: _prediction_stats,
    DataType.EVENT: _event,
}


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
        piece_size = sum(map(len, piece.items)) + len(piece.items)
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
    built.sort(key=_INDEX)
    return [request for _, request in built]


class _Group:
    """The pieces of one destination waiting to become a request."""

    __slots__ = ("members", "size")

    def __init__(self, size: int) -> None:
        self.members: list[tuple[int, Piece]] = []
        self.size = size


def _build(group: list[tuple[int, Piece]]) -> Request:
    # map() over attrgetters rather than generator expressions: this runs once per piece,
    # and a generator costs a Python step per element.
    members = list(map(_PIECE, group))
    first = members[0]
    items = b",".join(chain.from_iterable(map(_ITEMS, members)))
    record_ids = tuple(map(_RECORD_ID, members))
    with_ids = members
    if None in record_ids:
        with_ids = [p for p in members if p.record_id is not None]
        record_ids = tuple(map(_RECORD_ID, with_ids))
    return Request(
        path=first.path,
        body=first.head + items + first.tail,
        record_ids=record_ids,
        indexes=tuple(map(_INDEX, group)),
        rows=sum(map(_ROWS, members)),
        item_counts=tuple(map(len, map(_ITEMS, with_ids))),
    )


_INDEX = operator.itemgetter(0)
_PIECE = operator.itemgetter(1)
_ITEMS = operator.attrgetter("items")
_RECORD_ID = operator.attrgetter("record_id")
_ROWS = operator.attrgetter("rows")
