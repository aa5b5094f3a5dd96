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
_HEADER_KEY_SET = frozenset(_HEADER_KEYS)
#: Data types by wire name, for the common case of a known name.
_BY_NAME = {member.name: member for member in DataType}
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
    if type(doc) is not dict:
        raise DecodeError("record is not a JSON object", source=source, offset=offset)
    header = doc.get("header")
    if type(header) is not dict:
        raise DecodeError("record has no 'header' object", source=source, offset=offset)
    record_id = header.get("id")
    if record_id is not None and type(record_id) is not str:
        record_id = str(record_id)
    if "dataType" not in header:
        raise _failure("header has no 'dataType'", record_id, source, offset)
    version = header.get("version", RECORD_VERSION)
    if version != RECORD_VERSION:
        message = f"unsupported record version {version!r} (expected {RECORD_VERSION})"
        raise _failure(message, record_id, source, offset)
    deployment_id = header.get("deploymentId")
    if deployment_id is not None and type(deployment_id) is not str:
        raise _failure("header.deploymentId must be a string or null", record_id, source, offset)
    data = doc.get("data")
    if type(data) is str:
        try:
            # loads_lenient, inlined: this runs for every record a spool holds.
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            try:
                payload = loads_lenient(data)
            except (ValueError, UnicodeDecodeError) as exc:
                message = f"'data' is not JSON text: {exc}"
                raise _failure(message, record_id, source, offset) from exc
    elif type(data) is dict:
        payload = data
    else:
        raise _failure("record has no 'data' string", record_id, source, offset)
    if type(payload) is not dict:
        raise _failure("'data' is not a JSON object", record_id, source, offset)
    data_type = header["dataType"]
    data_len = header.get("dataLen")
    # Positional: keyword calls of the generated __init__ cost more, and this is per record.
    return Record(
        deployment_id,
        _BY_NAME.get(data_type, data_type)
        if type(data_type) is str
        else data_type_from_wire(data_type),
        payload,
        record_id,
        DataFormat.JSON,
        RECORD_VERSION,
        _text(header.get("language")),
        _text(header.get("libVersion")),
        _text(header.get("reserved")),
        data_len if isinstance(data_len, int) else None,
        # DataRobot's library writes exactly the known keys: skip the comprehension then.
        {} if header.keys() <= _HEADER_KEY_SET else _extra(header),
    )


def _text(value: object) -> str:
    """A header field as text; absent, null and empty are ``""``."""
    return value if type(value) is str else str(value or "")


def _extra(header: dict[str, Any]) -> dict[str, Any]:
    """Header fields that are not DataRobot's, kept so a round trip keeps them."""
    return {k: v for k, v in header.items() if k not in _HEADER_KEY_SET}


def _failure(
    message: str, record_id: str | None, source: str | None, offset: int | None
) -> DecodeError:
    return DecodeError(message, record_id=record_id, source=source, offset=offset)


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
