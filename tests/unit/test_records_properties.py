"""Codec properties: round trips, damaged input, lenient JSON, versions, types, validation."""

from __future__ import annotations

import hashlib
import json
import math
import struct
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spoolwatch.errors import DecodeError, InvalidRecord, RecordError
from spoolwatch.records import (
    DataType,
    FrameKind,
    Record,
    decode_json,
    decode_record_bytes,
    encode_frame,
    encode_json,
    frame_record_id,
    next_frame,
    validate_payload,
    validate_record,
)
from spoolwatch.records.binary_codec import encode_record_bytes

SETTINGS = settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])

# JSON as both encoders can carry it: 64-bit integers (orjson's range, as DataRobot's JSON
# envelope) and text without lone surrogates (not valid UTF-8).
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
    max_leaves=25,
)
payloads = st.dictionaries(text, json_values, max_size=8)
known_types = st.sampled_from(list(DataType))
deployment_ids = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


def records(data_types: st.SearchStrategy[Any] = known_types) -> st.SearchStrategy[Record]:
    return st.builds(
        Record,
        deployment_id=deployment_ids,
        data_type=data_types,
        payload=payloads,
        id=st.uuids().map(str),
    )


def same_content(a: Record, b: Record) -> bool:
    return (a.deployment_id, a.data_type, a.payload) == (b.deployment_id, b.data_type, b.payload)


@SETTINGS
@given(records())
def test_json_envelope_round_trip_keeps_any_payload(record: Record) -> None:
    assert decode_json(encode_json(record)) == record


@SETTINGS
@given(records())
def test_binary_frame_round_trip_keeps_any_payload(record: Record) -> None:
    frame = encode_frame(record)
    found = next_frame(frame, 0)
    assert found.kind is FrameKind.RECORD and found.end == len(frame)
    assert same_content(decode_record_bytes(found.body), record)


@SETTINGS
@given(records(), st.data())
def test_truncated_json_envelope_raises_only_decode_errors(record: Record, data: Any) -> None:
    raw = encode_json(record)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(DecodeError):
        decode_json(raw[:cut])


@SETTINGS
@given(records(), st.data())
def test_truncated_binary_frame_is_incomplete_never_an_error(record: Record, data: Any) -> None:
    frame = encode_frame(record)
    cut = data.draw(st.integers(0, len(frame) - 1))
    assert next_frame(frame[:cut], 0).kind is FrameKind.INCOMPLETE


@SETTINGS
@given(records(), st.data())
def test_truncated_record_bytes_raise_only_decode_errors(record: Record, data: Any) -> None:
    body = encode_record_bytes(record)
    cut = data.draw(st.integers(0, len(body) - 1))
    try:
        decoded = decode_record_bytes(body[:cut])
    except DecodeError:
        return
    # A cut inside the JSON payload text can still parse only if what is left is JSON.
    assert isinstance(decoded.payload, dict)


def record_or_record_error(decode: Callable[[bytes], Record], raw: bytes) -> None:
    """Decoding damaged bytes gives a record or a RecordError; anything else is a bug."""
    try:
        result = decode(raw)
    except RecordError:
        return
    assert isinstance(result, Record) and isinstance(result.payload, dict)


def _corrupt(raw: bytes, data: Any) -> bytes:
    damaged = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(damaged) - 1))
        damaged[at] = data.draw(st.integers(0, 255))
    return bytes(damaged)


@SETTINGS
@given(records(), st.data())
def test_corrupted_json_envelope_never_raises_anything_but_record_errors(
    record: Record, data: Any
) -> None:
    record_or_record_error(decode_json, _corrupt(encode_json(record), data))


@SETTINGS
@given(records(), st.data())
def test_corrupted_binary_frame_never_raises_anything_but_record_errors(
    record: Record, data: Any
) -> None:
    damaged = _corrupt(encode_frame(record), data)
    try:
        found = next_frame(damaged, 0)
    except RecordError:
        return
    if found.kind is FrameKind.RECORD:
        record_or_record_error(decode_record_bytes, found.body)


@SETTINGS
@given(records(), st.data())
def test_corrupted_record_bytes_with_a_recomputed_crc_fail_only_as_record_errors(
    record: Record, data: Any
) -> None:
    body = _corrupt(encode_record_bytes(record), data)
    frame = struct.pack(">IIIQ", 0xDEADBEEF, 1, len(body), zlib.crc32(body)) + body
    found = next_frame(frame, 0)
    assert found.kind is FrameKind.RECORD
    record_or_record_error(decode_record_bytes, found.body)


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_a_record_or_a_record_error(raw: bytes) -> None:
    record_or_record_error(decode_json, raw)
    record_or_record_error(decode_record_bytes, raw)


def test_deeply_nested_payload_is_a_decode_error_not_a_crash() -> None:
    data = json.dumps("[" * 50_000)
    envelope = '{"header": {"dataType": "EVENT", "version": 2}, "data": ' + data + "}"
    with pytest.raises(DecodeError, match="nested too deeply"):
        decode_json(envelope)


non_finite = st.sampled_from([math.nan, math.inf, -math.inf])


@SETTINGS
@given(
    st.lists(st.one_of(non_finite, st.floats(allow_nan=False, allow_infinity=False)), max_size=10),
    non_finite,
)
def test_stdlib_form_envelope_reads_nan_and_infinity_as_none(
    values: list[float], extra: float
) -> None:
    payload = {
        "timestamp": "2024-03-01 09:00:00.000",
        "values": values,
        "extra": extra,
        "name": "caf\u00e9",
    }
    envelope = json.dumps(
        {
            "header": {
                "id": "x",
                "deploymentId": "d",
                "dataType": "EVENT",
                "dataFormat": "json",
                "dataLen": None,
                "version": 2,
                "language": "python",
                "libVersion": "11.2.62",
                "reserved": "",
            },
            "data": json.dumps(payload),
        }
    )
    assert "NaN" in envelope or "Infinity" in envelope
    assert "\\u00e9" in envelope  # the stdlib form escapes non-ASCII
    record = decode_json(envelope)
    assert record.payload["extra"] is None
    assert record.payload["values"] == [v if math.isfinite(v) else None for v in values]
    assert record.payload["name"] == "caf\u00e9"


@SETTINGS
@given(
    st.lists(
        st.one_of(non_finite, st.floats(allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=10,
    )
)
def test_binary_payload_with_nan_tokens_reads_them_as_none(values: list[float]) -> None:
    record = Record(deployment_id="d", data_type=DataType.EVENT, payload={"v": values})
    decoded = decode_record_bytes(encode_record_bytes(record))
    assert decoded.payload == {"v": [v if math.isfinite(v) else None for v in values]}


@SETTINGS
@given(
    st.one_of(
        st.integers(13, 2**32 - 1), text.filter(lambda name: name not in DataType.__members__)
    )
)
def test_unknown_data_types_are_carried_through(data_type: int | str) -> None:
    record = Record(deployment_id="d", data_type=data_type, payload={"x": 1}, id="i")
    decoded = decode_json(encode_json(record))
    assert decoded.data_type == data_type and decoded.known_type is None
    assert validate_record(decoded) is None
    if isinstance(data_type, int):
        assert decode_record_bytes(encode_record_bytes(record)).data_type == data_type


def test_unknown_type_name_from_a_producer_is_kept_verbatim() -> None:
    raw = (
        '{"header":{"id":"a","deploymentId":"d","dataType":"FEATURE_SKETCH",'
        '"dataFormat":"json","dataLen":null,"version":2,"language":"java",'
        '"libVersion":"12.0.0","reserved":"","traceId":"t-1"},"data":"{\\"x\\":1}"}'
    )
    record = decode_json(raw)
    assert record.data_type == "FEATURE_SKETCH" and record.type_name == "FEATURE_SKETCH"
    assert record.header_extra == {"traceId": "t-1"} and record.language == "java"
    assert decode_json(encode_json(record)) == record


@SETTINGS
@given(st.integers(0, 2**32 - 1).filter(lambda v: v != 2))
def test_record_version_other_than_2_is_a_decode_error(version: int) -> None:
    record = Record(
        deployment_id="d", data_type=DataType.EVENT, payload={}, id="i", version=version
    )
    with pytest.raises(DecodeError, match="version"):
        decode_json(encode_json(record))
    with pytest.raises(DecodeError, match="version"):
        decode_record_bytes(encode_record_bytes(record))


@pytest.mark.parametrize("data_type", [2**32, -1])
def test_data_type_ordinal_outside_u32_cannot_be_framed(data_type: int) -> None:
    record = Record(deployment_id="d", data_type=data_type, payload={})
    with pytest.raises(InvalidRecord, match="binary frame"):
        encode_frame(record)


STAMP = "2026-11-24 20:01:33.369+0100"


@pytest.mark.parametrize(
    ("data_type", "payload", "field"),
    [
        (
            DataType.DEPLOYMENT_STATS,
            {"timestamp": STAMP, "numPredictions": -1, "executionTime": 1.0},
            "numPredictions",
        ),
        (DataType.DEPLOYMENT_STATS, {"numPredictions": 1, "executionTime": 1.0}, "timestamp"),
        (
            DataType.PREDICTIONS_DATA,
            {"timestamp": STAMP, "predictions": [1.0, 2.0], "associationIds": ["a"]},
            "associationIds",
        ),
        (
            DataType.PREDICTIONS_DATA,
            {"timestamp": STAMP, "features": {"a": [1], "b": [1, 2]}},
            "features",
        ),
        (
            DataType.PREDICTIONS_DATA,
            {"timestamp": STAMP, "predictions": [[0.2, 0.8]], "classNames": ["a", "b", "c"]},
            "predictions",
        ),
        (
            DataType.ACTUALS_DATA,
            {"actualsList": [{"actualValue": 1.0}]},
            "actualsList.0.associationId",
        ),
        (DataType.CUSTOM_METRIC, {"customMetricId": "", "buckets": []}, "customMetricId"),
        (DataType.EVENT, {"timestamp": STAMP, "message": "m"}, "eventType"),
    ],
)
def test_invalid_payload_raises_invalid_record_naming_the_field(
    data_type: DataType, payload: dict[str, Any], field: str
) -> None:
    record = Record(deployment_id="d", data_type=data_type, payload=payload, id="rec-1")
    with pytest.raises(InvalidRecord) as raised:
        validate_record(record)
    assert raised.value.field == field
    assert field in str(raised.value) and "rec-1" in str(raised.value)
    assert raised.value.record_id == "rec-1"


def test_unknown_payload_fields_are_kept_by_validation() -> None:
    payload = {"timestamp": STAMP, "numPredictions": 1, "executionTime": 2.0, "newField": [1]}
    validate_record(Record("d", DataType.DEPLOYMENT_STATS, payload, id="i"))
    model = validate_payload(DataType.DEPLOYMENT_STATS, payload)
    assert model.model_dump()["newField"] == [1]


@SETTINGS
@given(st.binary(max_size=200), text)
def test_frame_record_id_is_a_uuid_of_the_hash_of_frame_and_position(
    body: bytes, position: str
) -> None:
    digest = hashlib.blake2b(body, digest_size=16, person=b"spoolwatch-frame")
    digest.update(position.encode("utf-8"))
    assert frame_record_id(body, position) == str(uuid.UUID(bytes=digest.digest()))
    assert frame_record_id(body, position + "x") != frame_record_id(body, position)
