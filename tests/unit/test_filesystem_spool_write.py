"""Writing DataRobot spool files: appending, rotation, capacity, and configuration errors."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from spoolwatch.errors import ConfigError, InvalidRecord, SpoolUnavailable
from spoolwatch.records import (
    DataType,
    FrameKind,
    Record,
    decode_json,
    decode_record_bytes,
    encode_frame,
    encode_json,
    next_frame,
)
from spoolwatch.spools import open_spool
from spoolwatch.spools.filesystem import FilesystemSpool, from_url
from tests.spool_contract import sample_records


def fixture_records_json(folder: Path) -> list[Record]:
    return [
        decode_json(raw)
        for index in (1, 2, 3)
        for raw in (folder / f"fs_spool.{index}").read_bytes().splitlines()
    ]


def fixture_records_binary(folder: Path) -> list[Record]:
    records = []
    for index in (1, 2, 3):
        data = (folder / f"fs_spool.{index}").read_bytes()
        found = next_frame(data, 0)
        while found.kind is FrameKind.RECORD:
            records.append(decode_record_bytes(found.body))
            found = next_frame(data, found.end)
    return records


def spool_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("fs_spool.*"))}


@pytest.mark.parametrize(
    ("data_format", "folder", "max_file_size"),
    [("JSON", "json", 1000), ("BYTE_ARRAY", "byte_array", 700)],
)
def test_rotation_and_refusal_reproduce_datarobot_files_byte_for_byte(
    fixtures_dir: Path, tmp_path: Path, data_format: str, folder: str, max_file_size: int
) -> None:
    reference = fixtures_dir / "fs_rotation" / folder
    load = fixture_records_json if data_format == "JSON" else fixture_records_binary
    records = load(reference)
    assert len(records) == 6
    spool = FilesystemSpool(
        tmp_path, data_format=data_format, max_file_size=max_file_size, max_files=3
    )
    for record in records:
        spool.write([record])  # one report call each, as in the fixture run
    with pytest.raises(SpoolUnavailable, match="reached max capacity"):
        spool.write([records[0]])
    assert spool_files(tmp_path) == spool_files(reference)
    spool.close()


def test_writer_appends_to_the_newest_file_while_it_has_room(tmp_path: Path) -> None:
    first, second = sample_records(2)
    (tmp_path / "fs_spool.4").write_bytes(encode_json(first) + b"\n")
    with FilesystemSpool(tmp_path) as spool:
        spool.write([second])
    assert sorted(p.name for p in tmp_path.glob("fs_spool.*")) == ["fs_spool.4"]
    lines = (tmp_path / "fs_spool.4").read_bytes().splitlines()
    assert [decode_json(raw).id for raw in lines] == [first.id, second.id]


def test_writer_does_not_append_to_a_line_cut_short_by_a_crashed_writer(tmp_path: Path) -> None:
    first, second = sample_records(2)
    stub = encode_json(first)[:50]
    (tmp_path / "fs_spool.1").write_bytes(stub)
    with FilesystemSpool(tmp_path) as spool:
        spool.write([second])
        deliveries = spool.read(10)
    assert (tmp_path / "fs_spool.1").read_bytes() == stub
    assert [d.raw for d in deliveries if d.error is not None] == [stub]
    assert [d.record_id for d in deliveries if d.error is None] == [second.id]


def test_writer_starts_a_new_file_when_the_newest_is_in_the_other_format(tmp_path: Path) -> None:
    first, second = sample_records(2)
    (tmp_path / "fs_spool.1").write_bytes(encode_json(first) + b"\n")
    with FilesystemSpool(tmp_path, data_format="BYTE_ARRAY") as spool:
        spool.write([second])
    assert (tmp_path / "fs_spool.2").read_bytes() == encode_frame(second)


def test_binary_writer_starts_a_new_file_after_an_end_marker(tmp_path: Path) -> None:
    first, second = sample_records(2)
    (tmp_path / "fs_spool.1").write_bytes(encode_frame(first) + bytes.fromhex("feedcafe"))
    with FilesystemSpool(tmp_path, data_format="BYTE_ARRAY") as spool:
        spool.write([second])
    assert (tmp_path / "fs_spool.2").read_bytes() == encode_frame(second)


def test_binary_writer_can_write_frames_without_checksum(tmp_path: Path) -> None:
    record = sample_records(1)[0]
    with FilesystemSpool(tmp_path, data_format="BYTE_ARRAY", checksum=False) as spool:
        spool.write([record])
    assert (tmp_path / "fs_spool.1").read_bytes() == encode_frame(record, checksum=False)


def test_one_write_call_with_many_records_rotates_between_them(tmp_path: Path) -> None:
    records = sample_records(12)
    with FilesystemSpool(tmp_path, data_format="BYTE_ARRAY", max_file_size=2000) as spool:
        spool.write(records)
    files = spool_files(tmp_path)
    assert len(files) > 1
    assert all(len(data) <= 2000 for data in files.values())
    assert all(
        data.endswith(bytes.fromhex("feedcafe"))
        for name, data in files.items()
        if name != max(files, key=lambda n: int(n.split(".")[1]))
    )
    with FilesystemSpool(tmp_path) as spool:
        assert [d.record.payload for d in spool.read(100) if d.record] == [
            r.payload for r in records
        ]


def test_record_larger_than_a_spool_file_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    small, big = sample_records(2)
    big.payload["padding"] = "x" * 5000
    with (
        FilesystemSpool(tmp_path, max_file_size=2000) as spool,
        pytest.raises(InvalidRecord, match="does not fit"),
    ):
        spool.write([small, big])
    assert spool_files(tmp_path) == {}


def test_binary_ping_without_deployment_id_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    good = sample_records(1)[0]
    ping = Record.new(DataType.PING_MSG, None, {"message": "ping"})
    with (
        FilesystemSpool(tmp_path, data_format="BYTE_ARRAY") as spool,
        pytest.raises(InvalidRecord, match="deployment id"),
    ):
        spool.write([good, ping])
    assert spool_files(tmp_path) == {}


def test_total_size_limit_refuses_a_write(tmp_path: Path) -> None:
    (tmp_path / "fs_spool.1").write_bytes(b"{}\n" * 1000)  # written with a larger limit
    spool = FilesystemSpool(tmp_path, max_file_size=1000, max_files=3)
    with pytest.raises(SpoolUnavailable, match="max capacity"):
        spool.write(sample_records(1))
    spool.close()


def test_a_full_spool_accepts_writes_again_once_a_consumer_drained_it(tmp_path: Path) -> None:
    writer = FilesystemSpool(tmp_path, data_format="BYTE_ARRAY", max_file_size=700, max_files=2)
    records = sample_records(8)
    written = 0
    with pytest.raises(SpoolUnavailable):
        for record in records:
            writer.write([record])
            written += 1
    with FilesystemSpool(tmp_path) as consumer:
        deliveries = consumer.read(100)
        assert len(deliveries) == written
        consumer.ack(deliveries)
    writer.write([records[written]])
    with FilesystemSpool(tmp_path) as consumer:
        assert [d.record.payload for d in consumer.read(100) if d.record] == [
            records[written].payload
        ]
    writer.close()


def test_writer_starts_over_when_its_file_was_removed(tmp_path: Path) -> None:
    first, second = sample_records(2)
    spool = FilesystemSpool(tmp_path)
    spool.write([first])
    os.unlink(tmp_path / "fs_spool.1")
    spool.write([second])
    assert [decode_json(raw).id for raw in (tmp_path / "fs_spool.1").read_bytes().splitlines()] == [
        second.id
    ]
    spool.close()


def test_writer_does_not_need_the_consumer_lock(tmp_path: Path) -> None:
    with FilesystemSpool(tmp_path) as consumer:
        assert consumer.read(10) == []
        with FilesystemSpool(tmp_path) as writer:
            writer.write(sample_records(2))
        assert len(consumer.read(10)) == 2


def test_record_byte_limit_follows_datarobot() -> None:
    assert FilesystemSpool.record_byte_limit == 104_857_600


def test_record_byte_limit_is_capped_by_a_small_file_size(tmp_path: Path) -> None:
    assert FilesystemSpool(tmp_path, max_file_size=5000).record_byte_limit == 5000


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"data_format": "json"}, "data_format"),
        ({"max_files": 0}, "max_files"),
        ({"max_file_size": "big"}, "max_file_size"),
    ],
)
def test_bad_options_raise_config_error_naming_the_option(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        FilesystemSpool(tmp_path, **options)  # type: ignore[arg-type]


def test_missing_directory_is_a_config_error_unless_asked_to_create_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match="does not exist"):
        FilesystemSpool(missing)
    assert not missing.exists()
    FilesystemSpool(missing, create=True)
    assert missing.is_dir()


def test_from_url_accepts_paths_and_file_urls_with_options(tmp_path: Path) -> None:
    spool = from_url(f"file://{tmp_path}?data_format=byte_array&max_files=4&checksum=false")
    assert (spool.directory, spool.data_format, spool.max_files, spool.checksum) == (
        str(tmp_path),
        "BYTE_ARRAY",
        4,
        False,
    )
    plain = open_spool(str(tmp_path), max_file_size="2048")
    assert isinstance(plain, FilesystemSpool) and plain.max_file_size == 2048


@pytest.mark.parametrize(
    ("address", "message"),
    [("file://otherhost/spool", "host"), ("file:///tmp?colour=blue", "unknown")],
)
def test_from_url_rejects_what_it_cannot_honour(address: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_url(address)


def test_vanished_directory_is_reported_as_spool_unavailable(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    spool = FilesystemSpool(directory)
    directory.rmdir()
    with pytest.raises(SpoolUnavailable, match="cannot write"):
        spool.write(sample_records(1))
    with pytest.raises(SpoolUnavailable, match="cannot read"):
        spool.read(1)
    with pytest.raises(SpoolUnavailable, match="cannot count"):
        spool.backlog()
    spool.close()


def test_record_written_after_a_write_failed_midway_is_not_joined_to_the_cut_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, cut, third = sample_records(3)
    real_write = os.write
    calls = 0

    def disk_full(fd: int, data: bytes | memoryview) -> int:
        # The disk fills up halfway through the record: part of it lands, then ENOSPC.
        nonlocal calls
        calls += 1
        if calls > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data)[: len(data) // 2])

    with FilesystemSpool(tmp_path) as writer:
        writer.write([first])
        monkeypatch.setattr(os, "write", disk_full)
        with pytest.raises(SpoolUnavailable):
            writer.write([cut])
        monkeypatch.setattr(os, "write", real_write)
        writer.write([third])
    with FilesystemSpool(tmp_path) as reader:
        deliveries = reader.read(10)
    assert [d.record.payload for d in deliveries if d.record] == [first.payload, third.payload]
    assert len([d for d in deliveries if d.error is not None]) == 1
