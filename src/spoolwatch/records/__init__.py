"""Monitoring records: the envelope, DataRobot's data types, and the JSON and binary codecs."""

from typing import TYPE_CHECKING, Any

from spoolwatch.records.binary_codec import (
    END_MARKER,
    MAGIC,
    Frame,
    FrameKind,
    decode_record_bytes,
    encode_frame,
    frame_record_id,
    next_frame,
)
from spoolwatch.records.envelope import RECORD_VERSION, WIRE_LIB_VERSION, Record
from spoolwatch.records.json_codec import decode_json, dumps_payload, encode_json, loads_lenient
from spoolwatch.records.types import ROUTABLE_TYPES, DataFormat, DataType

if TYPE_CHECKING:
    from spoolwatch.records.payloads import validate_payload, validate_record

__all__ = [
    "END_MARKER",
    "MAGIC",
    "RECORD_VERSION",
    "ROUTABLE_TYPES",
    "WIRE_LIB_VERSION",
    "DataFormat",
    "DataType",
    "Frame",
    "FrameKind",
    "Record",
    "decode_json",
    "decode_record_bytes",
    "dumps_payload",
    "encode_frame",
    "encode_json",
    "frame_record_id",
    "loads_lenient",
    "next_frame",
    "validate_payload",
    "validate_record",
]


def __getattr__(name: str) -> Any:
    # The payload models need pydantic, which a model that only writes records (the
    # Reporter) never uses: import them when first asked for.
    if name in ("validate_payload", "validate_record"):
        from spoolwatch.records import payloads

        return getattr(payloads, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
