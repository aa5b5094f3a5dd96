"""The JSON envelope codec: ``{"header": {...}, "data": "<payload JSON as a string>"}``.

Reading accepts both forms DataRobot's library writes: the compact orjson form and the
standard-library form (``", "`` separators, ``\\u`` escapes, ``NaN``/``Infinity`` tokens).
Non-finite numbers are read as ``None`` so every consumer sees one shape; writing is always
the compact form, which is what the library writes by default.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from spoolwatch.errors import DecodeError, InvalidRecord
from spoolwatch.records.envelope import RECORD_VERSION, Record
from spoolwatch.records.types import DataFormat, DataType, data_type_from_wire

__all__ = ["decode_json", "dumps_payload", "encode_json", "loads_lenient"]

_HEADER_KEYS = (
    "id",
    "deploymentId",
    "dataType",
    "dataFormat",
    "dataLen",
    "version",
    "language",
    "libVersion",
    "reserved",
)
_DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _non_finite_to_none(_token: str) -> None:
    return None


def loads_lenient(text: bytes | str) -> Any:
    """Parse JSON; fall back to the standard library for ``NaN``/``Infinity`` tokens (→ None)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if isinstance(text, bytes | bytearray | memoryview):
            text = bytes(text).decode("utf-8")
        try:
            return json.loads(text, parse_constant=_non_finite_to_none)
        except RecursionError as exc:
            # Deeply nested garbage must be a decode error, not a crash of the reader.
            raise ValueError("JSON is nested too deeply") from exc


def dumps_payload(payload: dict[str, Any]) -> bytes:
    """The compact JSON of a payload; NaN and ±Infinity become ``null``."""
    try:
        return orjson.dumps(payload, option=_DUMP_OPTIONS)
    except TypeError as exc:
        raise InvalidRecord(f"payload cannot be written as JSON: {exc}") from exc


def decode_json(
    text: bytes | str, *, source: str | None = None, offset: int | None = None
) -> Record:
    """Decode one JSON envelope. Raises :class:`DecodeError` naming what is wrong and where."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not a JSON record: {exc}", source=source, offset=offset) from exc
    if not isinstance(doc, dict):
        raise DecodeError("record is not a JSON object", source=source, offset=offset)
    header = doc.get("header")
    if not isinstance(header, dict):
        raise DecodeError("record has no 'header' object", source=source, offset=offset)
    record_id = header.get("id")
    if record_id is not None and not isinstance(record_id, str):
        record_id = str(record_id)

    def fail(message: str) -> DecodeError:
        return DecodeError(message, record_id=record_id, source=source, offset=offset)

    if "dataType" not in header:
        raise fail("header has no 'dataType'")
    version = header.get("version", RECORD_VERSION)
    if version != RECORD_VERSION:
        raise fail(f"unsupported record version {version!r} (expected {RECORD_VERSION})")
    deployment_id = header.get("deploymentId")
    if deployment_id is not None and not isinstance(deployment_id, str):
        raise fail("header.deploymentId must be a string or null")
    data = doc.get("data")
    if isinstance(data, str):
        try:
            payload = loads_lenient(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise fail(f"'data' is not JSON text: {exc}") from exc
    elif isinstance(data, dict):
        payload = data
    else:
        raise fail("record has no 'data' string")
    if not isinstance(payload, dict):
        raise fail("'data' is not a JSON object")
    data_len = header.get("dataLen")
    return Record(
        deployment_id=deployment_id,
        data_type=data_type_from_wire(header["dataType"]),
        payload=payload,
        id=record_id,
        data_format=DataFormat.JSON,
        version=RECORD_VERSION,
        language=str(header.get("language") or ""),
        lib_version=str(header.get("libVersion") or ""),
        reserved=str(header.get("reserved") or ""),
        data_len=data_len if isinstance(data_len, int) else None,
        header_extra={k: v for k, v in header.items() if k not in _HEADER_KEYS},
    )


def encode_json(record: Record) -> bytes:
    """Encode a record as a compact JSON envelope (no trailing newline), UTF-8 bytes."""
    data_type: object = record.data_type
    if isinstance(data_type, DataType):
        data_type = data_type.name
    header: dict[str, Any] = {
        "id": record.id,
        "deploymentId": record.deployment_id,
        "dataType": data_type,
        "dataFormat": "json",
        "dataLen": None,
        "version": record.version,
        "language": record.language,
        "libVersion": record.lib_version,
        "reserved": record.reserved,
    }
    if record.header_extra:
        header.update(record.header_extra)
    data = dumps_payload(record.payload).decode("utf-8")
    return orjson.dumps({"header": header, "data": data})
