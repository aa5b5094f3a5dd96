"""Every record DataRobot's library wrote decodes, validates and re-encodes faithfully."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from spoolwatch.records import (
    DataFormat,
    FrameKind,
    Record,
    decode_json,
    decode_record_bytes,
    encode_frame,
    encode_json,
    next_frame,
    validate_record,
)
from spoolwatch.records.binary_codec import encode_record_bytes

JSON_SPOOLS = ["fs_json", "fs_split", "fs_rotation/json"]
BINARY_SPOOLS = ["fs_binary", "fs_rotation/byte_array"]


def json_lines(fixtures_dir: Path, folder: str) -> list[bytes]:
    return [
        raw
        for path in sorted((fixtures_dir / folder).glob("fs_spool.*"))
        for raw in path.read_bytes().splitlines()
    ]


def binary_frames(fixtures_dir: Path, folder: str) -> list[tuple[str, int, bytes, bytes]]:
    """(file, offset, whole frame, record bytes) of every frame; checks each file's ending."""
    frames = []
    for path in sorted((fixtures_dir / folder).glob("fs_spool.*")):
        data = path.read_bytes()
        offset = 0
        while True:
            found = next_frame(data, offset, source=path.name)
            if found.kind is not FrameKind.RECORD:
                break
            frames.append((path.name, offset, data[offset : found.end], found.body))
            offset = found.end
        if found.kind is FrameKind.END:
            assert found.end == len(data)  # nothing follows the end marker
        else:
            assert offset == len(data)  # the newest file ends after its last frame
    return frames


def without_non_finite(value: Any) -> Any:
    """What readers see: NaN and ±Infinity become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: without_non_finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_non_finite(v) for v in value]
    return value


def same_content(a: Record, b: Record) -> bool:
    return (
        a.deployment_id,
        a.data_type,
        a.payload,
        a.version,
        a.language,
        a.lib_version,
        a.reserved,
    ) == (b.deployment_id, b.data_type, b.payload, b.version, b.language, b.lib_version, b.reserved)


@pytest.mark.parametrize("folder", JSON_SPOOLS)
def test_every_json_spool_line_decodes_and_validates(fixtures_dir: Path, folder: str) -> None:
    raw_lines = json_lines(fixtures_dir, folder)
    assert raw_lines
    for raw in raw_lines:
        record = decode_json(raw)
        assert record.id and record.version == 2 and record.data_format is DataFormat.JSON
        validate_record(record)


def test_fs_json_holds_every_data_type_the_python_library_emits(fixtures_dir: Path) -> None:
    names = {decode_json(raw).type_name for raw in json_lines(fixtures_dir, "fs_json")}
    assert names == {
        "DEPLOYMENT_STATS",
        "PREDICTIONS_DATA",
        "EVENT",
        "ACTUALS_DATA",
        "CUSTOM_METRIC",
        "PREDICTION_STATS",
        "PING_MSG",
    }


def test_json_record_samples_decode_to_their_header_and_payload(fixtures_dir: Path) -> None:
    samples = sorted((fixtures_dir / "json_records").glob("*.json"))
    assert len(samples) == 20
    for sample in samples:
        doc = json.loads(sample.read_text())
        record = decode_json(doc["raw_line"])
        header = doc["header"]
        assert record.id == header["id"]
        assert record.deployment_id == header["deploymentId"]
        assert record.type_name == header["dataType"] == sample.stem.split("_", 1)[1]
        assert (record.version, record.language, record.lib_version, record.reserved) == (
            header["version"],
            header["language"],
            header["libVersion"],
            header["reserved"],
        )
        assert record.payload == doc["data_decoded"]
        validate_record(record)


@pytest.mark.parametrize("folder", BINARY_SPOOLS)
def test_every_binary_frame_decodes_and_validates(fixtures_dir: Path, folder: str) -> None:
    frames = binary_frames(fixtures_dir, folder)
    assert frames
    for name, offset, _, body in frames:
        record = decode_record_bytes(body, source=name, offset=offset)
        assert record.data_format is DataFormat.BYTE_ARRAY and record.version == 2
        validate_record(record)


def test_binary_frames_match_the_reference_readers_view(fixtures_dir: Path) -> None:
    reference = json.loads((fixtures_dir / "fs_binary" / "decoded.json").read_text())
    frames = binary_frames(fixtures_dir, "fs_binary")
    assert len(frames) == len(reference) == 19
    for (_, offset, frame, body), expected in zip(frames, reference, strict=True):
        record = decode_record_bytes(body)
        assert offset == expected["offset"] and len(body) == expected["recordLen"]
        assert int.from_bytes(frame[12:20], "big") == expected["checksum"]
        header = expected["header"]
        assert record.deployment_id == header["deploymentId"]
        assert int(record.data_type) == header["dataTypeOrdinal"]
        assert record.type_name == header["dataType"]
        assert record.data_len == header["dataLen"]
        assert record.payload == without_non_finite(expected["payload"])


def test_binary_encoder_reproduces_datarobot_frames_byte_for_byte(fixtures_dir: Path) -> None:
    frames = binary_frames(fixtures_dir, "fs_binary")
    identical = [
        frame for _, _, frame, body in frames if encode_frame(decode_record_bytes(body)) == frame
    ]
    differing = [
        body for _, _, frame, body in frames if encode_frame(decode_record_bytes(body)) != frame
    ]
    assert len(identical) == 18
    # The one that differs carried NaN, which readers turn into None (written back as null).
    assert len(differing) == 1 and b"NaN" in differing[0]


def test_json_encoder_reproduces_datarobot_lines_byte_for_byte(fixtures_dir: Path) -> None:
    for folder in JSON_SPOOLS:
        for raw in json_lines(fixtures_dir, folder):
            assert encode_json(decode_json(raw)) == raw


@pytest.mark.parametrize("folder", JSON_SPOOLS)
def test_json_records_reencode_to_equivalent_records_in_both_encodings(
    fixtures_dir: Path, folder: str
) -> None:
    for raw in json_lines(fixtures_dir, folder):
        record = decode_json(raw)
        assert decode_json(encode_json(record)) == record
        if record.deployment_id is None:
            continue  # DataRobot's binary format cannot hold a record without deployment id
        again = decode_record_bytes(encode_record_bytes(record))
        assert same_content(again, record)


@pytest.mark.parametrize("folder", BINARY_SPOOLS)
def test_binary_records_reencode_to_equivalent_records_in_both_encodings(
    fixtures_dir: Path, folder: str
) -> None:
    for _, _, _, body in binary_frames(fixtures_dir, folder):
        record = decode_record_bytes(body)
        assert same_content(decode_record_bytes(encode_record_bytes(record)), record)
        assert same_content(decode_json(encode_json(record)), record)
