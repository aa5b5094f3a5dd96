"""DataRobot's binary spool frames (``MLOPS_SPOOLER_DATA_FORMAT=BYTE_ARRAY``).

A frame is ``magic 0xDEADBEEF | framing version 1 | N | CRC-32 as u64 | N record bytes``,
all big-endian; a finished file ends with ``0xFEEDCAFE``. The record bytes hold a
length-prefixed header and the payload as standard-library JSON text.
"""

from __future__ import annotations

import enum
import hashlib
import json
import struct
import zlib
from dataclasses import dataclass

from spoolwatch.errors import DecodeError, InvalidRecord
from spoolwatch.records.envelope import RECORD_VERSION, Record
from spoolwatch.records.json_codec import loads_lenient
from spoolwatch.records.types import DataFormat, DataType, data_type_from_wire

__all__ = [
    "END_MARKER",
    "FRAME_HEADER_SIZE",
    "FRAMING_VERSION",
    "MAGIC",
    "Frame",
    "FrameKind",
    "decode_record_bytes",
    "encode_frame",
    "encode_record_bytes",
    "frame_record_id",
    "next_frame",
]

MAGIC = 0xDEADBEEF
END_MARKER = 0xFEEDCAFE
FRAMING_VERSION = 1
FRAME_HEADER_SIZE = 20
_MAGIC_BYTES = struct.pack(">I", MAGIC)
_END_BYTES = struct.pack(">I", END_MARKER)
_FRAME_HEAD = struct.Struct(">IIIQ")
_U32 = struct.Struct(">I")


class FrameKind(enum.Enum):
    """What :func:`next_frame` found at an offset."""

    RECORD = "record"  #: a complete frame; ``body`` holds its record bytes
    END = "end"  #: the end-of-file marker: the writer has finished with this file
    INCOMPLETE = "incomplete"  #: not enough bytes yet; the writer may still be appending


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame found in a buffer: ``buf[offset:end]``."""

    kind: FrameKind
    offset: int
    end: int
    body: bytes = b""


def next_frame(
    buf: bytes | memoryview, offset: int, *, source: str | None = None, verify: bool = True
) -> Frame:
    """Look at ``buf[offset:]`` and return the frame, end marker or "incomplete" found there.

    Raises :class:`DecodeError` (with ``source`` and ``offset``) on a bad magic, an unknown
    framing version or, when ``verify`` is set, a CRC-32 that does not match.
    """
    available = len(buf) - offset
    if available < 4:
        return Frame(FrameKind.INCOMPLETE, offset, offset)
    magic = bytes(buf[offset : offset + 4])
    if magic == _END_BYTES:
        return Frame(FrameKind.END, offset, offset + 4)
    if magic != _MAGIC_BYTES:
        raise DecodeError(f"bad frame magic 0x{magic.hex()}", source=source, offset=offset)
    if available < FRAME_HEADER_SIZE:
        return Frame(FrameKind.INCOMPLETE, offset, offset)
    _, framing, length, checksum = _FRAME_HEAD.unpack_from(buf, offset)
    if framing != FRAMING_VERSION:
        raise DecodeError(
            f"unsupported framing version {framing} (expected {FRAMING_VERSION})",
            source=source,
            offset=offset,
        )
    end = offset + FRAME_HEADER_SIZE + length
    if len(buf) < end:
        return Frame(FrameKind.INCOMPLETE, offset, offset)
    body = bytes(buf[offset + FRAME_HEADER_SIZE : end])
    if verify and checksum and zlib.crc32(body) != checksum:
        raise DecodeError(
            f"CRC-32 mismatch (frame says 0x{checksum:08x}, bytes give 0x{zlib.crc32(body):08x})",
            source=source,
            offset=offset,
        )
    return Frame(FrameKind.RECORD, offset, end, body)


def frame_record_id(body: bytes, position: str) -> str:
    """A stable id for a frame that has none: a hash of its bytes and where it was read."""
    digest = hashlib.blake2b(body, digest_size=16, person=b"spoolwatch-frame")
    digest.update(position.encode("utf-8"))
    # Same text as str(uuid.UUID(bytes=...)), without building a UUID object per frame.
    h = digest.hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def decode_record_bytes(
    body: bytes,
    *,
    record_id: str | None = None,
    source: str | None = None,
    offset: int | None = None,
) -> Record:
    """Decode the record bytes of one frame (header fields, then the JSON payload)."""

    def fail(message: str) -> DecodeError:
        return DecodeError(message, record_id=record_id, source=source, offset=offset)

    try:
        header_len = _U32.unpack_from(body, 0)[0]
        pos = 4
        dep_len = _U32.unpack_from(body, pos)[0]
        pos += 4
        deployment_id = body[pos : pos + dep_len].decode("utf-8")
        pos += dep_len
        data_type_ordinal, data_format, payload_len, version = struct.unpack_from(
            ">IIII", body, pos
        )
        pos += 16
        strings = []
        for _ in range(3):
            n = _U32.unpack_from(body, pos)[0]
            pos += 4
            if pos + n > len(body):
                raise fail("header string runs past the end of the record")
            strings.append(body[pos : pos + n].decode("utf-8"))
            pos += n
    except (struct.error, UnicodeDecodeError) as exc:
        raise fail(f"malformed binary record header: {exc}") from exc
    if pos != 4 + header_len:
        raise fail(f"header length says {header_len} bytes but the fields take {pos - 4}")
    if version != RECORD_VERSION:
        raise fail(f"unsupported record version {version} (expected {RECORD_VERSION})")
    if pos + payload_len > len(body):
        raise fail(f"payload length {payload_len} runs past the end of the record")
    try:
        payload = loads_lenient(body[pos : pos + payload_len])
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"payload is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise fail("payload is not a JSON object")
    language, lib_version, reserved = strings
    return Record(
        deployment_id=deployment_id,
        data_type=data_type_from_wire(data_type_ordinal),
        payload=payload,
        id=record_id,
        data_format=DataFormat.BYTE_ARRAY if data_format == 0 else DataFormat(min(data_format, 2)),
        version=version,
        language=language,
        lib_version=lib_version,
        reserved=reserved,
        data_len=payload_len,
    )


def _pack_str(value: str) -> bytes:
    raw = value.encode("utf-8")
    return _U32.pack(len(raw)) + raw


def encode_record_bytes(record: Record) -> bytes:
    """The record bytes of a frame. Payload text is standard-library JSON, as DataRobot writes.

    Lengths are byte counts (DataRobot's writer counts characters, which truncates non-ASCII
    deployment ids; ids are ASCII in practice, where both agree).
    """
    if record.deployment_id is None:
        raise InvalidRecord("a binary record needs a deployment id", record_id=record.id)
    data_type = record.data_type
    if isinstance(data_type, str) and not isinstance(data_type, DataType):
        raise InvalidRecord(
            f"unknown data type {data_type!r} has no binary ordinal", record_id=record.id
        )
    try:
        payload = json.dumps(record.payload).encode("ascii")
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(
            f"payload cannot be written as JSON: {exc}", record_id=record.id
        ) from exc
    try:
        fields = (
            _pack_str(record.deployment_id)
            + struct.pack(
                ">IIII", int(data_type), DataFormat.BYTE_ARRAY, len(payload), record.version
            )
            + _pack_str(record.language)
            + _pack_str(record.lib_version)
            + _pack_str(record.reserved)
        )
    except struct.error as exc:
        # Ordinals and the version are u32 on the wire; anything else cannot be framed.
        raise InvalidRecord(
            f"record cannot be written as a binary frame (data type {data_type!r}, version "
            f"{record.version!r}): {exc}",
            record_id=record.id,
        ) from exc
    return _U32.pack(len(fields)) + fields + payload


def encode_frame(record: Record, *, checksum: bool = True) -> bytes:
    """A complete spool frame for one record (``MLOPS_SPOOLER_CHECKSUM`` → ``checksum``)."""
    body = encode_record_bytes(record)
    crc = zlib.crc32(body) if checksum else 0
    return _FRAME_HEAD.pack(MAGIC, FRAMING_VERSION, len(body), crc) + body
