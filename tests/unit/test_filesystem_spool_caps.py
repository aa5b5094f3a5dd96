"""The filesystem spool's record size cap and its fsync option."""

from __future__ import annotations

import base64
import json
import os
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from spoolwatch.errors import ConfigError, InvalidRecord, RecordTooLarge
from spoolwatch.records import MAGIC, encode_json
from spoolwatch.server.settings import DEFAULT_MAX_BODY_BYTES
from spoolwatch.spools import open_spool
from spoolwatch.spools.base import Delivery
from spoolwatch.spools.filesystem import DEFAULT_MAX_RECORD_BYTES, FilesystemSpool, from_url
from tests.spool_contract import sample_records

MIB = 1 << 20
# What reading may allocate on top of what it had: a few 1 MiB chunks, nothing near 50 MiB.
EXTRA_BYTES_ALLOWED = 10 * MIB


def _append_long_line(path: Path, size: int, *, newline: bool = True) -> None:
    """A JSON-looking line of ``size`` bytes, written without holding it in memory."""
    piece = b"a" * MIB
    with open(path, "ab") as handle:
        handle.write(b'{"blob": "')
        left = size - len(b'{"blob": "') - 2
        while left > 0:
            handle.write(piece[: min(left, MIB)])
            left -= MIB
        handle.write(b'"}' + (b"\n" if newline else b""))


def _append_large_frame(path: Path, size: int, *, checksum: bool = True) -> None:
    piece = b"b" * MIB
    crc = 0
    if checksum:
        for start in range(0, size, MIB):
            crc = zlib.crc32(piece[: min(MIB, size - start)], crc)
    with open(path, "ab") as handle:
        handle.write(struct.pack(">IIIQ", MAGIC, 1, size, crc))
        for start in range(0, size, MIB):
            handle.write(piece[: min(MIB, size - start)])


def _drain_like_an_agent(spool: FilesystemSpool) -> tuple[list[Delivery], int]:
    """Read everything, quarantining error deliveries; returns (good deliveries, peak bytes)."""
    good: list[Delivery] = []
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        while batch := spool.read(100):
            bad = [d for d in batch if d.error is not None]
            spool.quarantine(bad, "undecodable")
            spool.ack([d for d in batch if d.error is None])
            good.extend(d for d in batch if d.error is None)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return good, peak


def _quarantine_entries(directory: Path) -> list[dict[str, object]]:
    text = (directory / "quarantine" / "quarantine.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def spool_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "spool"


def test_default_record_cap_is_the_services_request_body_limit() -> None:
    assert DEFAULT_MAX_RECORD_BYTES == DEFAULT_MAX_BODY_BYTES


def test_a_50_mib_line_between_good_records_is_quarantined_small_in_bounded_memory(
    spool_dir: Path,
) -> None:
    before, after = sample_records(3), sample_records(4)
    spool = FilesystemSpool(spool_dir, create=True)
    spool.write(before)
    offset = (spool_dir / "fs_spool.1").stat().st_size
    _append_long_line(spool_dir / "fs_spool.1", 50 * MIB)
    spool.write(after)
    assert spool.backlog().visible == 8
    good, peak = _drain_like_an_agent(spool)
    spool.close()
    assert [d.record_id for d in good] == [r.id for r in before + after]
    assert peak < EXTRA_BYTES_ALLOWED, f"reading allocated {peak / MIB:.1f} MiB"
    (entry,) = _quarantine_entries(spool_dir)
    assert entry["size"] == 50 * MIB and entry["truncated"] is True
    assert entry["position"] == f"fs_spool.1@{offset}"
    assert base64.b64decode(str(entry["raw"])) == b'{"blob": "' + b"a" * 1014
    assert f"{50 * MIB} bytes exceeds the spool's max_record_bytes" in str(entry["error"])
    assert (spool_dir / "quarantine" / "quarantine.jsonl").stat().st_size < 4096


def test_a_newline_less_1_gib_file_is_skipped_in_bounded_memory(spool_dir: Path) -> None:
    spool_dir.mkdir()
    with open(spool_dir / "fs_spool.1", "wb") as handle:
        handle.truncate(1 << 30)  # sparse: a GiB of bytes without a newline
    after = sample_records(2)
    # A newer file means fs_spool.1 is finished: its unterminated tail is dealt with now.
    (spool_dir / "fs_spool.2").write_bytes(b"".join(encode_json(r) + b"\n" for r in after))
    spool = FilesystemSpool(spool_dir)
    good, peak = _drain_like_an_agent(spool)
    spool.close()
    assert [d.record_id for d in good] == [r.id for r in after]
    assert peak < EXTRA_BYTES_ALLOWED, f"reading allocated {peak / MIB:.1f} MiB"
    (entry,) = _quarantine_entries(spool_dir)
    assert entry["size"] == 1 << 30 and entry["position"] == "fs_spool.1@0"
    assert "unterminated JSON line" in str(entry["error"])


def test_a_long_line_within_the_cap_is_delivered_whole_even_while_it_is_being_written(
    spool_dir: Path,
) -> None:
    spool = FilesystemSpool(spool_dir, create=True)
    path = spool_dir / "fs_spool.1"
    (record,) = sample_records(1)
    spool.write([record])
    _append_long_line(path, 9 * MIB, newline=False)
    assert [d.record_id for d in spool.read(10)] == [record.id]
    assert spool.read(10) == []  # the long line is not finished: wait
    with open(path, "ab") as handle:
        handle.write(b"\n")
    (long,) = spool.read(10)
    assert long.error is not None and len(long.raw) == 9 * MIB  # whole: it fits the cap
    assert not isinstance(long.error, RecordTooLarge)  # a record without a header
    spool.ack([long])
    (later,) = sample_records(1)
    spool.write([later])
    assert [d.record_id for d in spool.read(10)] == [later.id]
    spool.close()


def test_a_line_above_a_small_cap_found_within_one_chunk_keeps_only_its_first_kib(
    spool_dir: Path,
) -> None:
    spool = FilesystemSpool(spool_dir, create=True, max_record_bytes=2000)
    _append_long_line(spool_dir / "fs_spool.1", 5000)
    (record,) = sample_records(1)
    spool.write([record])
    big, good = spool.read(10)
    assert isinstance(big.error, RecordTooLarge) and big.error.size == 5000
    assert big.error.limit == 2000 and len(big.raw) == 1024
    assert good.record_id == record.id
    spool.close()


@pytest.mark.parametrize("checksum", [True, False])
def test_a_50_mib_frame_between_good_frames_is_quarantined_small_in_bounded_memory(
    spool_dir: Path, checksum: bool
) -> None:
    before, after = sample_records(2), sample_records(3)
    spool = FilesystemSpool(spool_dir, create=True, data_format="BYTE_ARRAY", checksum=checksum)
    spool.write(before)
    offset = (spool_dir / "fs_spool.1").stat().st_size
    _append_large_frame(spool_dir / "fs_spool.1", 50 * MIB, checksum=checksum)
    spool.close()  # a new writer: it appends after the large frame
    spool = FilesystemSpool(spool_dir, data_format="BYTE_ARRAY", checksum=checksum)
    spool.write(after)
    assert spool.backlog().visible == 6
    good, peak = _drain_like_an_agent(spool)
    spool.close()
    # Binary records get their ids from frame bytes and position: compare the payloads.
    assert [d.record.payload for d in good if d.record] == [r.payload for r in before + after]
    assert peak < EXTRA_BYTES_ALLOWED, f"reading allocated {peak / MIB:.1f} MiB"
    (entry,) = _quarantine_entries(spool_dir)
    assert entry["size"] == 50 * MIB and entry["position"] == f"fs_spool.1@{offset}"
    raw = base64.b64decode(str(entry["raw"]))
    assert len(raw) == 1024 and raw[20:] == b"b" * 1004
    assert "binary record of" in str(entry["error"])


def test_a_large_frame_whose_crc_does_not_match_is_not_trusted_and_the_stream_resyncs(
    spool_dir: Path,
) -> None:
    spool = FilesystemSpool(spool_dir, create=True, data_format="BYTE_ARRAY")
    path = spool_dir / "fs_spool.1"
    with open(path, "ab") as handle:  # claims 6 MiB, holds 100 bytes
        handle.write(struct.pack(">IIIQ", MAGIC, 1, 6 * MIB, 12345) + b"x" * 100)
    records = sample_records(2)
    spool.write(records)
    with open(path, "ab") as handle:
        handle.write(b"y" * (6 * MIB))  # now the claimed length is present, the CRC is wrong
    small = FilesystemSpool(spool_dir, data_format="BYTE_ARRAY", max_record_bytes=MIB)
    junk, *rest = small.read(10)
    assert junk.error is not None and "CRC-32 does not match" in str(junk.error)
    assert len(junk.raw) == 120  # up to the first valid frame, not the claimed 6 MiB
    assert [d.record.payload for d in rest if d.record] == [r.payload for r in records]
    small.close()
    spool.close()


def test_a_long_garbage_stretch_keeps_only_its_first_kib(spool_dir: Path) -> None:
    spool = FilesystemSpool(spool_dir, create=True, data_format="BYTE_ARRAY")
    spool.write(sample_records(1))
    with open(spool_dir / "fs_spool.1", "ab") as handle:
        handle.write(os.urandom(3 * MIB).replace(b"\xde\xad", b"\x00\x00"))
    records = sample_records(1)
    spool.write(records)
    capped = FilesystemSpool(spool_dir, data_format="BYTE_ARRAY", max_record_bytes=MIB)
    first, junk, last = capped.read(10)
    assert first.error is None and junk.error is not None and len(junk.raw) == 1024
    assert getattr(junk.error, "size", None) == 3 * MIB
    assert last.record is not None and last.record.payload == records[0].payload
    capped.close()
    spool.close()


@pytest.mark.parametrize("data_format", ["JSON", "BYTE_ARRAY"])
def test_writing_a_record_above_the_cap_is_refused_and_nothing_is_written(
    spool_dir: Path, data_format: str
) -> None:
    spool = FilesystemSpool(spool_dir, create=True, data_format=data_format, max_record_bytes=300)
    small, large = sample_records(2)
    large.payload["padding"] = "x" * 400
    with pytest.raises(InvalidRecord, match=r"max_record_bytes 300.*nothing was written"):
        spool.write([small, large])
    assert list(spool_dir.glob("fs_spool.*")) == []
    spool.close()


def test_cap_and_fsync_are_url_options(spool_dir: Path) -> None:
    spool = from_url(f"file://{spool_dir}?create=true&max_record_bytes=4096&fsync=yes")
    assert (spool.max_record_bytes, spool.fsync) == (4096, True)
    plain = open_spool(str(spool_dir))
    assert isinstance(plain, FilesystemSpool)
    assert (plain.max_record_bytes, plain.fsync) == (DEFAULT_MAX_RECORD_BYTES, False)


@pytest.mark.parametrize(
    ("query", "message"),
    [("max_record_bytes=0", "max_record_bytes"), ("fsync=sometimes", "fsync")],
)
def test_bad_cap_or_fsync_option_is_a_config_error(
    spool_dir: Path, query: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        from_url(f"file://{spool_dir}?create=true&{query}")


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_fsync_option_syncs_the_file_on_every_write_and_the_directory_on_a_new_file(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = _record_fsyncs(monkeypatch)
    spool = FilesystemSpool(spool_dir, create=True, fsync=True)
    spool.write(sample_records(2))
    spool.write(sample_records(1))
    file = str(spool_dir / "fs_spool.1")
    assert synced == [str(spool_dir), file, file]
    spool.close()


def test_without_fsync_writes_do_not_sync(spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced = _record_fsyncs(monkeypatch)
    with FilesystemSpool(spool_dir, create=True) as spool:
        spool.write(sample_records(3))
    assert synced == []


def test_fsync_option_syncs_the_directory_again_when_a_write_rotates_to_a_new_file(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = _record_fsyncs(monkeypatch)
    spool = FilesystemSpool(spool_dir, create=True, fsync=True, max_file_size=700)
    first, second = sample_records(2)
    spool.write([first])
    spool.write([second])
    one, two = str(spool_dir / "fs_spool.1"), str(spool_dir / "fs_spool.2")
    assert synced == [str(spool_dir), one, str(spool_dir), two]
    spool.close()
