"""Reading DataRobot spool files: formats, partial records, corruption and file order."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from spoolwatch.errors import DecodeError
from spoolwatch.records import (
    MAGIC,
    Record,
    encode_frame,
    encode_json,
    frame_record_id,
)
from spoolwatch.spools.filesystem import FilesystemSpool
from tests.spool_contract import sample_records


def copy_fixture(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("fs_spool.*"):
        shutil.copyfile(path, target / path.name)
    return target


def frame(body: bytes, crc: int | None = None) -> bytes:
    checksum = zlib.crc32(body) if crc is None else crc
    return struct.pack(">IIIQ", MAGIC, 1, len(body), checksum) + body


def line(record: Record) -> bytes:
    return encode_json(record) + b"\n"


@pytest.mark.parametrize(
    ("folder", "count"),
    [
        ("fs_json", 20),
        ("fs_binary", 19),
        ("fs_split", 5),
        ("fs_rotation/json", 6),
        ("fs_rotation/byte_array", 6),
    ],
)
def test_datarobot_spool_directory_is_read_completely(
    fixtures_dir: Path, tmp_path: Path, folder: str, count: int
) -> None:
    spool = FilesystemSpool(copy_fixture(fixtures_dir / folder, tmp_path / "spool"))
    try:
        assert spool.backlog().visible == count
        deliveries = spool.read(100)
        assert len(deliveries) == count
        assert all(d.error is None and d.record is not None for d in deliveries)
        assert spool.read(100) == []
    finally:
        spool.close()


def test_binary_records_get_an_id_from_frame_bytes_and_position(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    directory = copy_fixture(fixtures_dir / "fs_binary", tmp_path / "spool")
    data = (directory / "fs_spool.1").read_bytes()
    decoded = json.loads((fixtures_dir / "fs_binary" / "decoded.json").read_text())
    with FilesystemSpool(directory) as spool:
        deliveries = spool.read(100)
    for delivery, reference in zip(deliveries, decoded, strict=True):
        offset = reference["offset"]
        body = data[offset + 20 : offset + 20 + reference["recordLen"]]
        assert delivery.position == f"fs_spool.1@{offset}"
        assert delivery.record_id == frame_record_id(body, f"fs_spool.1@{offset}")
        assert delivery.record is not None
        assert delivery.record.type_name == reference["header"]["dataType"]


def test_json_line_without_newline_waits_until_it_is_complete(tmp_path: Path) -> None:
    record = sample_records(1)[0]
    path = tmp_path / "fs_spool.1"
    path.write_bytes(encode_json(record))
    with FilesystemSpool(tmp_path) as spool:
        assert spool.read(10) == []
        assert spool.backlog().visible == 0
        with path.open("ab") as handle:
            handle.write(b"\n")
        deliveries = spool.read(10)
        assert [d.record_id for d in deliveries] == [record.id]


def test_binary_frame_that_is_partly_written_waits_until_it_is_complete(tmp_path: Path) -> None:
    data = encode_frame(sample_records(1)[0])
    path = tmp_path / "fs_spool.1"
    path.write_bytes(data[:30])
    with FilesystemSpool(tmp_path) as spool:
        assert spool.read(10) == []
        with path.open("ab") as handle:
            handle.write(data[30:])
        deliveries = spool.read(10)
        assert len(deliveries) == 1 and deliveries[0].error is None


def test_unterminated_record_at_end_of_a_finished_file_is_still_delivered(
    tmp_path: Path,
) -> None:
    first, second = sample_records(2)
    (tmp_path / "fs_spool.1").write_bytes(encode_json(first))  # writer died before "\n"
    (tmp_path / "fs_spool.2").write_bytes(line(second))
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
    assert [d.record_id for d in deliveries] == [first.id, second.id]


def test_truncated_junk_at_end_of_a_finished_file_becomes_an_error_delivery(
    tmp_path: Path,
) -> None:
    first, second = sample_records(2)
    (tmp_path / "fs_spool.1").write_bytes(line(first) + encode_json(first)[:40])
    (tmp_path / "fs_spool.2").write_bytes(line(second))
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
    assert [d.record_id for d in deliveries] == [first.id, None, second.id]
    assert isinstance(deliveries[1].error, DecodeError)
    assert deliveries[1].position == f"fs_spool.1@{len(line(first))}"


def test_bad_json_line_becomes_an_error_delivery_and_reading_continues(tmp_path: Path) -> None:
    first, second = sample_records(2)
    (tmp_path / "fs_spool.1").write_bytes(line(first) + b'{"header": oops\n' + line(second))
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
        assert [d.record_id for d in deliveries] == [first.id, None, second.id]
        bad = deliveries[1]
        assert bad.raw == b'{"header": oops'
        assert "fs_spool.1" in str(bad.error) and str(len(line(first))) in str(bad.error)
        spool.quarantine([bad], str(bad.error))
        spool.ack([deliveries[0], deliveries[2]])
        parked = list(spool.quarantined())
    assert [(p.position, p.raw) for p in parked] == [(bad.position, bad.raw)]
    assert (tmp_path / "quarantine" / "quarantine.jsonl").is_file()


def test_binary_frame_with_wrong_crc_becomes_an_error_and_the_next_frame_is_read(
    tmp_path: Path,
) -> None:
    first, second = sample_records(2)
    damaged = bytearray(encode_frame(first))
    damaged[-3] ^= 0xFF
    (tmp_path / "fs_spool.1").write_bytes(bytes(damaged) + encode_frame(second))
    with FilesystemSpool(tmp_path, data_format="BYTE_ARRAY") as spool:
        deliveries = spool.read(10)
    assert len(deliveries) == 2
    assert "CRC-32 mismatch" in str(deliveries[0].error)
    assert deliveries[0].raw == bytes(damaged)
    assert deliveries[1].record is not None
    assert deliveries[1].record.payload == second.payload


def test_frame_cut_short_by_a_crash_does_not_swallow_the_frames_appended_after_it(
    tmp_path: Path,
) -> None:
    # A writer that died mid-frame leaves a file without the end marker; the next writer
    # appends to it, so the cut frame's length reaches into the first appended frame.
    first, cut, third, fourth = sample_records(4)
    torn = encode_frame(cut)[:150]
    appended = [encode_frame(third), encode_frame(fourth)]
    (tmp_path / "fs_spool.1").write_bytes(encode_frame(first) + torn + b"".join(appended))
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
    assert [d.raw for d in deliveries if d.error is not None] == [torn]
    assert [d.record.payload for d in deliveries if d.record] == [
        first.payload,
        third.payload,
        fourth.payload,
    ]


def test_frame_cut_short_in_a_growing_file_waits_for_the_frame_appended_after_it(
    tmp_path: Path,
) -> None:
    first, cut, third = sample_records(3)
    torn = encode_frame(cut)[:150]
    appended = encode_frame(third)
    path = tmp_path / "fs_spool.1"
    # The cut frame's claimed length is covered, but the appended frame is not complete yet.
    path.write_bytes(encode_frame(first) + torn + appended[:-10])
    with FilesystemSpool(tmp_path) as spool:
        assert [d.record.payload for d in spool.read(10) if d.record] == [first.payload]
        assert spool.read(10) == []
        with path.open("ab") as handle:
            handle.write(appended[-10:])
        deliveries = spool.read(10)
    assert [d.raw for d in deliveries if d.error is not None] == [torn]
    assert [d.record.payload for d in deliveries if d.record] == [third.payload]


def test_bad_magic_resyncs_only_at_the_next_frame_with_a_valid_crc(tmp_path: Path) -> None:
    first, second = sample_records(2)
    good = encode_frame(first)
    garbage = b"\x00\x01garbage" + struct.pack(">I", MAGIC) + b"\x00\x00\x00\x07more junk"
    (tmp_path / "fs_spool.1").write_bytes(good + garbage + encode_frame(second))
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
    assert len(deliveries) == 3
    error = deliveries[1].error
    assert isinstance(error, DecodeError)
    assert error.source == "fs_spool.1" and error.offset == len(good)
    assert deliveries[1].raw == garbage
    assert f"next valid frame at byte {len(good) + len(garbage)}" in str(error)
    assert deliveries[2].record is not None and deliveries[2].record.payload == second.payload


def test_bad_magic_in_a_growing_file_waits_for_a_valid_frame(tmp_path: Path) -> None:
    first, second = sample_records(2)
    path = tmp_path / "fs_spool.1"
    path.write_bytes(encode_frame(first) + b"JUNKJUNK")
    with FilesystemSpool(tmp_path) as spool:
        assert len(spool.read(10)) == 1
        assert spool.read(10) == []  # nothing trustworthy after the junk yet: wait
        with path.open("ab") as handle:
            handle.write(encode_frame(second))
        deliveries = spool.read(10)
    assert [d.raw for d in deliveries if d.error is not None] == [b"JUNKJUNK"]
    assert [d.record.payload for d in deliveries if d.record] == [second.payload]


def test_frame_without_checksum_is_not_a_resync_target(tmp_path: Path) -> None:
    first, second = sample_records(2)
    unchecked = encode_frame(first, checksum=False)
    (tmp_path / "fs_spool.1").write_bytes(b"JUNK" + unchecked)
    (tmp_path / "fs_spool.2").write_bytes(encode_frame(second))
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
    # The CRC-less frame after the junk cannot be told from junk, so both go as one error.
    assert [d.raw for d in deliveries if d.error is not None] == [b"JUNK" + unchecked]
    assert [d.record.payload for d in deliveries if d.record] == [second.payload]


def test_frames_written_without_checksum_are_read(tmp_path: Path) -> None:
    records = sample_records(3)
    (tmp_path / "fs_spool.1").write_bytes(
        b"".join(encode_frame(r, checksum=False) for r in records)
    )
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
    assert [d.record.payload for d in deliveries if d.record] == [r.payload for r in records]


def test_files_are_read_in_order_of_their_integer_suffix(tmp_path: Path) -> None:
    records = sample_records(3)
    (tmp_path / "fs_spool.10").write_bytes(line(records[2]))
    (tmp_path / "fs_spool.2").write_bytes(line(records[1]))
    (tmp_path / "fs_spool.1").write_bytes(line(records[0]))
    (tmp_path / "fs_spool.01").write_bytes(b"not a spool file name\n")
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
    assert [d.record_id for d in deliveries] == [r.id for r in records]


def test_json_and_binary_files_in_one_directory_are_both_read(tmp_path: Path) -> None:
    records = sample_records(2)
    (tmp_path / "fs_spool.1").write_bytes(line(records[0]))
    (tmp_path / "fs_spool.2").write_bytes(encode_frame(records[1]))
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
    assert [d.record.payload for d in deliveries if d.record] == [r.payload for r in records]


def test_unknown_data_type_is_delivered_not_rejected(tmp_path: Path) -> None:
    odd = Record(deployment_id="d1", data_type=99, payload={"x": 1}, id="abc")
    (tmp_path / "fs_spool.1").write_bytes(encode_frame(odd))
    with FilesystemSpool(tmp_path) as spool:
        deliveries = spool.read(10)
    assert deliveries[0].record is not None and deliveries[0].record.data_type == 99
    assert deliveries[0].record.known_type is None


def test_peek_works_while_another_object_holds_the_consumer_lock(tmp_path: Path) -> None:
    writer = FilesystemSpool(tmp_path)
    writer.write(sample_records(3))
    with FilesystemSpool(tmp_path) as consumer:
        consumer.ack(consumer.read(1))
        onlooker = FilesystemSpool(tmp_path)
        assert len(list(onlooker.peek())) == 2
        assert onlooker.backlog().visible == 2
        assert len(list(consumer.peek())) == 2
    writer.close()
